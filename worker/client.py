"""The project's Temporal client: connecting, starting a course the one allowed way, asking a
query, and ending a process that used one."""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
from typing import Any, NoReturn, TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.types import MethodSyncOrAsyncNoParam

from domain.contract import (
    CLINIC_ID,
    COURSE_PHASE,
    OPEN_ESCALATIONS,
    PATIENT_REF,
    TASK_QUEUE,
    course_workflow_id,
)
from domain.course import CourseResult, CourseStart, Phase
from worker.converter import data_converter
from worker.runner import AHEAD_OF_TASK
from worker.settings import Settings
from workflows.course import TreatmentCourse

R = TypeVar("R")

QUERY_ATTEMPTS = 5
QUERY_RETRY_SECONDS = 0.2
"""A refused query is asked again once the run's next workflow task has had time to start."""


class SimulationNotAllowedError(ValueError):
    """A compressed clock was asked for where simulation is not enabled."""


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )


async def ask(handle: WorkflowHandle[Any, Any], query: MethodSyncOrAsyncNoParam[Any, R]) -> R:
    """Run `query`, asking again while a worker refuses to answer it ahead of the run's next
    workflow task (`worker.runner.CatchUpGuard`); any other failure is raised at once."""
    for _ in range(QUERY_ATTEMPTS - 1):
        try:
            return await handle.query(query)
        except WorkflowQueryFailedError as err:
            if err.message != AHEAD_OF_TASK:
                raise
        await asyncio.sleep(QUERY_RETRY_SECONDS)
    return await handle.query(query)


def exit_process(status: int) -> NoReturn:
    """End this process with `status` without finalizing the interpreter, once exit handlers
    have run and stdout and stderr are flushed.

    temporalio 1.35's core runtime hands each call's result to asyncio on a Tokio thread that
    releases the GIL while it wakes the loop and must take it back to finish. A process that
    ends right after a call can reach interpreter finalization first: that thread then dies
    inside the interpreter and the process aborts (`Fatal Python error: PyGILState_Release`) or
    segfaults instead of exiting with its status. The runtime cannot be shut down first (the
    default one is a module global, and a pending hand-over keeps its client alive), so
    finalization is skipped instead.
    """
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


async def start_course(
    client: Client, start: CourseStart, settings: Settings
) -> WorkflowHandle[TreatmentCourse, CourseResult]:
    """Start a course once: a second start of the same course id raises
    `temporalio.exceptions.WorkflowAlreadyStartedError`, even after the first has closed."""
    if start.time_scale != 1 and not settings.allow_simulation:
        raise SimulationNotAllowedError(
            f"time_scale {start.time_scale:g} compresses the protocol clock, which is for "
            "simulation only: set TRDFLOW_ALLOW_SIMULATION=true to allow it"
        )
    return await client.start_workflow(
        TreatmentCourse.run,
        start,
        id=course_workflow_id(start.course_id),
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        # Visible before the first workflow task runs, so a new course is findable at once.
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(COURSE_PHASE, Phase.ASSESSMENT.value),
                SearchAttributePair(CLINIC_ID, start.clinic_id),
                SearchAttributePair(PATIENT_REF, start.patient_ref),
                SearchAttributePair(OPEN_ESCALATIONS, 0),
            ]
        ),
        # Shown in the UI without decryption, so pseudonymous ids only.
        static_summary=(
            f"Course {start.course_id} · clinic {start.clinic_id} · {start.indication.value}"
        ),
    )
