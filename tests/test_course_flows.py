"""Whole courses on the time-skipping server, with a simulated clinic playing its part."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cli.localstack import new_course_id, play, quiet, start
from cli.room import ClinicApi
from cli.simulation import PERSONAS, assessment_for, demo_course
from domain.contract import course_workflow_id, session_workflow_id
from domain.course import (
    Awaiting,
    CourseResult,
    Discontinue,
    Pause,
    Phase,
    Resume,
    ReviewDecision,
)
from domain.protocol import Frequency
from domain.scales import Scale
from domain.session import SessionOutcome
from workflows.course import TreatmentCourse
from workflows.session import DosingSession

pytestmark = pytest.mark.usefixtures("worker")


def gaps_in_days(times: list[datetime]) -> list[int]:
    return [(later - earlier).days for earlier, later in pairwise(times)]


async def test_responder_spaces_out_to_every_2_weeks_and_completes_follow_up(
    env: WorkflowEnvironment,
    clinic: ClinicApi,
) -> None:
    course = demo_course(new_course_id("responder"), PERSONAS["responder"], time_scale=1.0)

    player, result = await play(env, clinic, course, PERSONAS["responder"])

    assert result.phase is Phase.COMPLETED
    assert [c.frequency for c in player.frequency_changes] == [Frequency.EVERY_2_WEEKS]
    status = await env.client.get_workflow_handle(course_workflow_id(course.course_id)).query(
        TreatmentCourse.status
    )
    maintenance = [s.scheduled_at for s in status.recent_sessions if s.phase == "maintenance"]
    assert gaps_in_days(maintenance)[-1] == 14
    assert status.check_ins_done == len(course.protocol.phases.follow_up_check_in_weeks)
    assert status.latest_scores[Scale.PHQ9].total == PERSONAS["responder"].check_in_phq9[-1]


async def test_non_responder_is_stopped_at_the_induction_review(
    env: WorkflowEnvironment, clinic: ClinicApi
) -> None:
    course = demo_course(new_course_id("nonresp"), PERSONAS["non_responder"], time_scale=1.0)

    _, result = await play(env, clinic, course, PERSONAS["non_responder"])

    assert result.phase is Phase.DISCONTINUED
    assert result.sessions_done == course.protocol.phases.induction_weeks * 2
    assert result.reason is not None and "induction review" in result.reason


async def test_missed_maintenance_sessions_with_worsening_scores_step_back_a_frequency(
    env: WorkflowEnvironment,
    clinic: ClinicApi,
) -> None:
    persona = PERSONAS["misser"]
    course = demo_course(new_course_id("misser"), persona, time_scale=1.0)

    player, result = await play(env, clinic, course, persona)

    changes = [(c.frequency, c.reason) for c in player.frequency_changes]
    assert changes[0][0] is Frequency.EVERY_2_WEEKS
    assert changes[1][0] is Frequency.WEEKLY
    assert "missed session" in changes[1][1]
    assert result.phase is Phase.COMPLETED


async def test_relapse_in_follow_up_is_flagged_to_a_clinician(
    env: WorkflowEnvironment, clinic: ClinicApi, db_pool: asyncpg.Pool
) -> None:
    persona = PERSONAS["misser"]  # PHQ-9 climbs back to 16 at the last check-in
    course = demo_course(new_course_id("relapse"), persona, time_scale=1.0)

    player, result = await play(env, clinic, course, persona)

    assert player.relapse_decisions == 1
    assert result.phase is Phase.COMPLETED
    kinds = await db_pool.fetch(
        "SELECT kind FROM notification_outbox WHERE course_id = $1", course.course_id
    )
    assert "relapse_flagged" in {row["kind"] for row in kinds}


async def induct(env: WorkflowEnvironment, label: str) -> WorkflowHandle[Any, CourseResult]:
    """A course that has passed assessment and has its first session scheduled."""
    course = demo_course(new_course_id(label), PERSONAS["responder"], time_scale=1.0)
    handle = await start(env.client, course)
    await handle.execute_update(
        TreatmentCourse.submit_assessment, assessment_for(PERSONAS["responder"])
    )
    await wait_for_status(env.client, handle, lambda s: s.awaiting is Awaiting.SESSION)
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
    session = env.client.get_workflow_handle_for(
        DosingSession.run, session_workflow_id(result.course_id, 1)
    )
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
