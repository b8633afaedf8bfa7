"""Driving whole courses on the time-skipping server, and reading back their histories.

Free of pytest: the flow, PHI and replay tests, the history recorder and the bench share it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from cli.room import ClinicApi
from cli.simulation import ClinicPlayer, Persona
from domain.contract import TASK_QUEUE, course_workflow_id
from domain.course import CourseResult, CourseStart
from workflows.course import TreatmentCourse


def new_course_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


async def start(client: Client, course: CourseStart) -> WorkflowHandle[Any, CourseResult]:
    return await client.start_workflow(
        TreatmentCourse.run, course, id=course_workflow_id(course.course_id), task_queue=TASK_QUEUE
    )


Starter = Callable[[Client, CourseStart], Awaitable[WorkflowHandle[Any, CourseResult]]]


async def play(
    env: WorkflowEnvironment,
    clinic: ClinicApi,
    course: CourseStart,
    persona: Persona,
    *,
    starter: Starter = start,
) -> tuple[ClinicPlayer, CourseResult]:
    """Start a course and let the simulated clinic play it to its end (staff and devices
    through the HTTP API)."""
    handle = await starter(env.client, course)
    player = ClinicPlayer(
        env.client, clinic, course.course_id, persona, now=env.get_current_time, advance=env.sleep
    )
    await player.play()
    return player, await handle.result()


async def run_histories(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, first to last, following the continue-as-new chain."""
    latest = (await client.get_workflow_handle(workflow_id).fetch_history()).events
    run_id: str | None = latest[
        0
    ].workflow_execution_started_event_attributes.first_execution_run_id
    runs = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(history)
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else None
        )
    return runs


async def history_lengths(client: Client, workflow_id: str) -> list[int]:
    """Events per run, following the continue-as-new chain from the first run."""
    return [len(history.events) for history in await run_histories(client, workflow_id)]


async def course_histories(client: Client, course_id: str) -> list[WorkflowHistory]:
    """Every run of a course, then every run of each of its session children, in order."""
    course = await run_histories(client, course_workflow_id(course_id))
    histories = list(course)
    for session_id in child_workflow_ids(course):
        histories += await run_histories(client, session_id)
    return histories


def child_workflow_ids(runs: Sequence[WorkflowHistory]) -> list[str]:
    return [
        event.child_workflow_execution_started_event_attributes.workflow_execution.workflow_id
        for history in runs
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED
    ]
