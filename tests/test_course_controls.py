"""A course stopped, paused and refused on the time-skipping server.

A server apart from the whole played courses': queries to it timed out after theirs had run
(`make stress`: 2 runs of 2 on a shared one)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cli.handles import session_handle
from cli.localstack import new_course_id, quiet, start
from cli.simulation import PERSONAS, assessment_for, demo_course
from domain.contract import session_workflow_id
from domain.course import (
    Awaiting,
    CourseResult,
    Discontinue,
    Pause,
    Phase,
    Resume,
    ReviewDecision,
)
from domain.session import SessionOutcome
from workflows.course import TreatmentCourse

pytestmark = pytest.mark.usefixtures("worker")


async def induct(env: WorkflowEnvironment, label: str) -> WorkflowHandle[Any, CourseResult]:
    """A course that has passed assessment and has its first session scheduled."""
    course = demo_course(new_course_id(label), PERSONAS["responder"], time_scale=1.0)
    handle = await start(env.client, course)
    await handle.execute_update(
        TreatmentCourse.submit_assessment, assessment_for(PERSONAS["responder"])
    )
    status = await wait_for_status(env.client, handle, lambda s: s.awaiting is Awaiting.SESSION)
    # Its session's first activities done too: a pause or a discontinue cancels the session, and
    # the test server leaks its time-skipping lock when a workflow closes while one of its
    # activities runs ("Activity not found on completion"): the next sleep then waits in real
    # time until its RPC times out (2 failed runs in 14 on a loaded machine).
    await quiet(env.client, status.current_session.workflow_id)
    return handle


async def wait_for_status(client: Client, handle: WorkflowHandle[Any, Any], predicate: Any) -> Any:
    for _ in range(200):
        await quiet(client, handle.id)
        status = await handle.query(TreatmentCourse.status)
        if predicate(status):
            return status
        await asyncio.sleep(0.02)
    raise AssertionError(f"status never matched: {status}")


async def test_pause_cancels_the_scheduled_session_and_resume_schedules_again(
    env: WorkflowEnvironment,
) -> None:
    handle = await induct(env, "pause")
    first = (await handle.query(TreatmentCourse.status)).current_session
    assert first is not None

    await handle.execute_update(
        TreatmentCourse.pause, Pause(reason="patient travelling", requested_by="dr-a")
    )
    paused = await wait_for_status(env.client, handle, lambda s: s.awaiting is Awaiting.RESUME)
    assert paused.paused and paused.next_session_at is None
    assert paused.recent_sessions[-1].outcome is SessionOutcome.CANCELLED

    await env.sleep(timedelta(days=10))
    resumed_at = await env.get_current_time()
    await handle.execute_update(TreatmentCourse.resume, Resume(requested_by="dr-a"))
    resumed = await wait_for_status(env.client, handle, lambda s: s.awaiting is Awaiting.SESSION)
    assert resumed.current_session.number == first.number + 1
    # The schedule starts again from the resume, not from the cancelled slot.
    assert resumed.current_session.scheduled_at >= resumed_at > first.scheduled_at


async def test_discontinue_closes_the_course_with_its_reason(env: WorkflowEnvironment) -> None:
    handle = await induct(env, "stop")

    await handle.execute_update(
        TreatmentCourse.discontinue,
        Discontinue(reason="patient withdrew consent", clinician="dr-a"),
    )

    result = await handle.result()
    assert result.phase is Phase.DISCONTINUED
    assert result.reason == "patient withdrew consent"
    # The session's own result, not a query: the test server can time out a query on a
    # workflow that has closed.
    session = session_handle(env.client, session_workflow_id(result.course_id, 1))
    assert (await session.result()).outcome is SessionOutcome.CANCELLED


async def test_a_duplicate_start_is_refused(env: WorkflowEnvironment, client: Client) -> None:
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from worker.client import start_course
    from worker.settings import Settings

    course = demo_course(new_course_id("dup"), PERSONAS["responder"], time_scale=1.0)
    settings = Settings()
    await start_course(client, course, settings)

    with pytest.raises(WorkflowAlreadyStartedError):
        await start_course(client, course, settings)


async def test_rejected_updates_leave_no_trace_in_history(env: WorkflowEnvironment) -> None:
    handle = await induct(env, "reject")
    before = [e.event_type for e in (await handle.fetch_history()).events]

    with pytest.raises(WorkflowUpdateFailedError) as early:
        await handle.execute_update(
            TreatmentCourse.decide_review,
            ReviewDecision(continue_treatment=True, clinician="dr-a", note="too early"),
        )
    assert "not induction_review" in str(early.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as malformed:
        # A malformed payload (PHQ-9 total 99) from a caller that skipped our models.
        await handle.execute_update(
            "record_score", {"score": {"scale": "phq9", "total": 99}, "reported_by": "x"}
        )
    assert "Failed decoding arguments" in str(malformed.value.cause)

    after = (await handle.fetch_history()).events
    accepted = [
        e for e in after if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert len(accepted) == before.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    assert (await handle.query(TreatmentCourse.status)).phase is Phase.INDUCTION
