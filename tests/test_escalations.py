"""Escalations on the time-skipping server, with the project's own worker: alerts raised by the
real `raise_alert`, pages sent by the real `page_on_call` to the local outbox pager, steps
recorded by the real `record_escalation`. Pages are read back from what those activities wrote."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, TypeVar

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.testing import WorkflowEnvironment

from activities.alerts import Alerts
from cli.handles import escalation_handle, session_handle
from cli.localstack import new_course_id, quiet, start
from cli.simulation import PERSONAS, assessment_for, demo_course
from domain.conditions import Condition, escalation_key
from domain.contract import OPEN_ESCALATIONS
from domain.course import CourseStatus, Discontinue, ScoreReport
from domain.escalation import (
    AckChannel,
    Acknowledge,
    EscalationPolicies,
    EscalationPolicy,
    EscalationState,
    EscalationStatus,
    OnCallRole,
    Reassign,
    Resolve,
    Rung,
    Severity,
    escalation_workflow_id,
)
from domain.records import Alert, AlertOutcome
from domain.scales import Scale, Score
from domain.session import OutcomeReport, SessionOutcome
from store import escalations, patients
from store.oncall import Shift, add_shift
from tests.activity_runs import registration, run
from workflows.course import TreatmentCourse
from workflows.escalation import Escalation
from workflows.session import DosingSession

pytestmark = pytest.mark.usefixtures("worker")

T = TypeVar("T")
NURSE, PSYCHIATRIST, DIRECTOR = (
    OnCallRole.NURSE,
    OnCallRole.PSYCHIATRIST,
    OnCallRole.MEDICAL_DIRECTOR,
)
POLLS = 300
ON_TIME = timedelta(seconds=2)
"""Slack for the real time a page's activities take on the test server."""
SLOW = EscalationPolicy(
    rungs=tuple(Rung(role=r, minutes_before_next=12 * 60) for r in (NURSE, PSYCHIATRIST, DIRECTOR)),
    repeats=1,
)
"""For the tests not about time: the test server's clock, which moves on by itself when
busy, never reaches the next rung unasked."""


@dataclass(frozen=True)
class OnCall:
    """A clinic with somebody on call for every role, each with their own pager."""

    clinic_id: str
    staff: dict[OnCallRole, str]

    def paged(self, routing_key: str) -> str:
        return routing_key.removeprefix("rk-")


async def on_call_clinic(env: WorkflowEnvironment, pool: asyncpg.Pool) -> OnCall:
    tag = uuid.uuid4().hex[:8]
    now = await env.get_current_time()
    staff = {role: f"{role.value.split('_')[-1]}-{tag}" for role in OnCallRole}
    for number, (role, staff_id) in enumerate(staff.items()):
        await add_shift(
            pool,
            Shift(
                clinic_id=f"clinic-{tag}",
                role=role,
                staff_id=staff_id,
                display_name=f"Test {role.value}",
                phone=f"+1555010{number:04d}",
                pager_routing_key=f"rk-{staff_id}",
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=30),
            ),
        )
    return OnCall(f"clinic-{tag}", staff)


async def course_in(pool: asyncpg.Pool, clinic_id: str) -> str:
    """A course registered at the clinic (its clinical record: where the trigger finds it)."""
    course = registration().model_copy(update={"clinic_id": clinic_id})
    await patients.register(pool, course)
    return course.course_id


def critical(
    course_id: str,
    reading_id: int = 1,
    policy: EscalationPolicy | None = None,
    occurrence: int = 1,
) -> Alert:
    condition = Condition.SPO2_LOW
    return Alert(
        dedup_key=escalation_key(f"course-{course_id}-session-1", condition, occurrence),
        course_id=course_id,
        session=1,
        severity=Severity.CRITICAL,
        condition=condition,
        occurrence=occurrence,
        summary="Session 1: SpO2 below 90%",
        reading_id=reading_id,
        phase="induction",
        policy=policy,
    )


async def raise_alert(
    env: WorkflowEnvironment, pool: asyncpg.Pool, alert: Alert, at: datetime | None = None
) -> AlertOutcome:
    """`raise_alert` as a session's activity runs it: scheduled now (or at `at`)."""
    scheduled = at or await env.get_current_time()
    return await run(Alerts(pool, env.client).raise_alert, alert, scheduled_at=scheduled)


async def until(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    for _ in range(POLLS):
        value = await probe()
        if done(value):
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"never reached: {value}")


async def pager_log(pool: asyncpg.Pool, escalation_id: str) -> list[tuple[str, str]]:
    """What reached the (local outbox) pager service for the escalation: (kind, routing key)."""
    rows = await pool.fetch(
        "SELECT kind, recipient FROM notification_outbox WHERE starts_with(effect_key, $1) "
        "ORDER BY id",
        escalation_id + "/",
    )
    return [(row["kind"], row["recipient"]) for row in rows]


async def paged(pool: asyncpg.Pool, on_call: OnCall, escalation_id: str) -> list[str]:
    """The staff paged, in order, as the outbox has them."""
    return [
        on_call.paged(key) for kind, key in await pager_log(pool, escalation_id) if kind == "page"
    ]


async def pages_reach(pool: asyncpg.Pool, on_call: OnCall, escalation_id: str, n: int) -> None:
    await until(lambda: paged(pool, on_call, escalation_id), lambda p: len(p) >= n)


def handle_of(client: Client, workflow_id: str) -> WorkflowHandle[Escalation, EscalationState]:
    return escalation_handle(client, workflow_id)


async def details(client: Client, workflow_id: str) -> EscalationState:
    await quiet(client, workflow_id)
    return await handle_of(client, workflow_id).query(Escalation.details)


async def audited_steps(pool: asyncpg.Pool, escalation_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT action FROM audit_log WHERE details->>'escalation_id' = $1 ORDER BY id",
        escalation_id,
    )
    return [row["action"] for row in rows]


async def test_an_unacknowledged_critical_escalation_climbs_the_ladder_on_time_and_repeats(
    env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    on_call = await on_call_clinic(env, db_pool)
    alert = critical(await course_in(db_pool, on_call.clinic_id))
    escalation_id = escalation_workflow_id(alert.dedup_key)
    policy = EscalationPolicies().critical  # 5, 5 then 10 minutes; the ladder runs 3 times

    await raise_alert(env, db_pool, alert)
    await pages_reach(db_pool, on_call, escalation_id, 1)
    await env.sleep(timedelta(hours=2))

    state = await details(env.client, escalation_id)
    rounds = 1 + policy.repeats
    ladder = [rung.role for rung in policy.rungs] * rounds
    assert [page.role for page in state.pages] == ladder
    waits = [timedelta(minutes=rung.minutes_before_next) for rung in policy.rungs] * rounds
    gaps = [later.at - earlier.at for earlier, later in pairwise(state.pages)]
    assert all(abs(gap - wait) < ON_TIME for gap, wait in zip(gaps, waits, strict=False)), gaps
    assert await paged(db_pool, on_call, escalation_id) == [on_call.staff[r] for r in ladder]
    assert state.status is EscalationStatus.OPEN
    row = await escalations.get(db_pool, escalation_id)
    assert row is not None and row.status is EscalationStatus.OPEN and row.pages == len(ladder)
    steps = await audited_steps(db_pool, escalation_id)
    assert steps == [
        "escalation.raised",
        *["escalation.paged"] * len(ladder),
        "escalation.ladder_exhausted",
    ]


async def test_an_acknowledgement_stops_the_paging(
    env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    on_call = await on_call_clinic(env, db_pool)
    alert = critical(await course_in(db_pool, on_call.clinic_id))
    escalation_id = escalation_workflow_id(alert.dedup_key)
    await raise_alert(env, db_pool, alert)
    await pages_reach(db_pool, on_call, escalation_id, 1)

    nurse = on_call.staff[NURSE]
    state = await handle_of(env.client, escalation_id).execute_update(
        Escalation.acknowledge, Acknowledge(by=nurse, via=AckChannel.CONSOLE)
    )
    await env.sleep(timedelta(hours=2))

    assert state.status is EscalationStatus.ACKNOWLEDGED
    assert state.acknowledged is not None and state.acknowledged.by == nurse
    assert await pager_log(db_pool, escalation_id) == [
        ("page", f"rk-{nurse}"),
        ("page_acknowledge", f"rk-{nurse}"),
    ]
    assert len((await details(env.client, escalation_id)).pages) == 1
    row = await escalations.get(db_pool, escalation_id)
    assert row is not None and row.status is EscalationStatus.ACKNOWLEDGED
    assert row.acknowledged_by == nurse
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle_of(env.client, escalation_id).execute_update(
            Escalation.acknowledge, Acknowledge(by="someone-else", via=AckChannel.CLI)
        )
    assert "acknowledged already" in str(again.value.cause)


async def test_a_resolve_needs_a_note_and_closes_the_escalation(
    env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    on_call = await on_call_clinic(env, db_pool)
    alert = critical(await course_in(db_pool, on_call.clinic_id), policy=SLOW)
    escalation_id = escalation_workflow_id(alert.dedup_key)
    await raise_alert(env, db_pool, alert)
    await pages_reach(db_pool, on_call, escalation_id, 1)
    handle = handle_of(env.client, escalation_id)
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED

    with pytest.raises(WorkflowUpdateFailedError) as no_note:
        # From a caller that skipped our models: Resolve refuses an empty note.
        await handle.execute_update("resolve", {"by": "dr-a", "note": ""})
    assert "Failed decoding arguments" in str(no_note.value.cause)
    events = (await handle.fetch_history()).events
    assert not [e for e in events if e.event_type == accepted]

    # Resolved straight from open: that stops the paging too.
    director = on_call.staff[DIRECTOR]
    note = "Patient reassessed; SpO2 back to 97% on room air"
    await handle.execute_update(Escalation.resolve, Resolve(by=director, note=note))
    state = await handle.result()

    assert state.status is EscalationStatus.RESOLVED
    assert state.resolved is not None and state.resolved.note == note
    assert len(state.pages) == 1
    assert await pager_log(db_pool, escalation_id) == [
        ("page", f"rk-{on_call.staff[NURSE]}"),
        ("page_resolve", f"rk-{on_call.staff[NURSE]}"),
    ]
    row = await escalations.get(db_pool, escalation_id)
    assert row is not None and row.status is EscalationStatus.RESOLVED
    assert (row.resolved_by, row.resolution_note) == (director, note)
    assert (await audited_steps(db_pool, escalation_id))[-1] == "escalation.resolved"


async def test_a_duplicate_trigger_pages_once(
    env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    on_call = await on_call_clinic(env, db_pool)
    first = critical(await course_in(db_pool, on_call.clinic_id), reading_id=7, policy=SLOW)
    escalation_id = escalation_workflow_id(first.dedup_key)
    raised_at = await env.get_current_time()

    assert await raise_alert(env, db_pool, first, at=raised_at) is AlertOutcome.OPENED
    await pages_reach(db_pool, on_call, escalation_id, 1)
    # The same condition again, on a later reading; then the first trigger's activity retried.
    again = first.model_copy(update={"reading_id": 8})
    assert await raise_alert(env, db_pool, again) is AlertOutcome.JOINED
    assert await raise_alert(env, db_pool, first, at=raised_at) is AlertOutcome.JOINED
    await until(lambda: details(env.client, escalation_id), lambda s: s.triggers > 1)
    await asyncio.sleep(0.2)  # a third trigger would be counted by now

    state = await details(env.client, escalation_id)
    assert state.triggers == 2
    assert len(state.pages) == 1
    assert await paged(db_pool, on_call, escalation_id) == [on_call.staff[NURSE]]
    history = await handle_of(env.client, escalation_id).fetch_history()
    run_id = history.events[0].workflow_execution_started_event_attributes.original_execution_run_id
    assert (await handle_of(env.client, escalation_id).describe()).run_id == run_id
    steps = await audited_steps(db_pool, escalation_id)
    assert steps.count("escalation.raised") == 1 and steps.count("escalation.retriggered") == 1


async def test_a_condition_again_after_its_resolution_pages_again_from_the_first_rung(
    env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    """S2 (review bug 4): the ended escalation is not started again under its old keys (which
    would find its pages "already sent"); the owner's next occurrence pages the nurse anew."""
    on_call = await on_call_clinic(env, db_pool)
    course_id = await course_in(db_pool, on_call.clinic_id)
    first = critical(course_id, reading_id=7, policy=SLOW)
    first_id = escalation_workflow_id(first.dedup_key)
    await raise_alert(env, db_pool, first)
    await pages_reach(db_pool, on_call, first_id, 1)
    resolve = Resolve(by=on_call.staff[NURSE], note="repositioned, SpO2 96%")
    await handle_of(env.client, first_id).execute_update(Escalation.resolve, resolve)
    await handle_of(env.client, first_id).result()

    late_repeat = first.model_copy(update={"reading_id": 8})
    outcome = await raise_alert(env, db_pool, late_repeat)
    second = critical(course_id, reading_id=8, policy=SLOW, occurrence=2)
    second_id = escalation_workflow_id(second.dedup_key)
    opened = await raise_alert(env, db_pool, second)
    await pages_reach(db_pool, on_call, second_id, 1)

    assert outcome is AlertOutcome.RESOLVED_ALREADY
    assert opened is AlertOutcome.OPENED
    assert await paged(db_pool, on_call, second_id) == [on_call.staff[NURSE]]
    assert (await details(env.client, second_id)).pages[0].channel is not None
    assert (
        await handle_of(env.client, first_id).describe()
    ).status is WorkflowExecutionStatus.COMPLETED


async def test_reassign_pages_the_named_role_next_and_the_ladder_goes_on_from_there(
    env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    on_call = await on_call_clinic(env, db_pool)
    alert = critical(await course_in(db_pool, on_call.clinic_id), policy=SLOW)
    escalation_id = escalation_workflow_id(alert.dedup_key)
    handle = handle_of(env.client, escalation_id)
    await raise_alert(env, db_pool, alert)
    await pages_reach(db_pool, on_call, escalation_id, 1)

    await handle.execute_update(
        Escalation.reassign, Reassign(by=on_call.staff[NURSE], to_role=DIRECTOR)
    )
    await pages_reach(db_pool, on_call, escalation_id, 2)
    director_waits = timedelta(minutes=SLOW.rungs[2].minutes_before_next)
    await env.sleep(director_waits + timedelta(minutes=1))

    state = await details(env.client, escalation_id)
    # The director at once, then the ladder's next rung after the director's: round 2's nurse.
    assert [page.role for page in state.pages] == [NURSE, DIRECTOR, NURSE]
    assert state.pages[1].at - state.pages[0].at < ON_TIME
    assert abs(state.pages[2].at - state.pages[1].at - director_waits) < ON_TIME

    # Reassigned once acknowledged: open again, and the named person is paged.
    psychiatrist = on_call.staff[PSYCHIATRIST]
    await handle.execute_update(
        Escalation.acknowledge, Acknowledge(by=on_call.staff[NURSE], via=AckChannel.PAGER)
    )
    reopened = await handle.execute_update(
        Escalation.reassign, Reassign(by=on_call.staff[NURSE], to_staff=psychiatrist)
    )
    await pages_reach(db_pool, on_call, escalation_id, 4)

    assert reopened.status is EscalationStatus.OPEN and reopened.acknowledged is None
    assert await paged(db_pool, on_call, escalation_id) == [
        on_call.staff[NURSE],
        on_call.staff[DIRECTOR],
        on_call.staff[NURSE],
        psychiatrist,
    ]
    assert (await details(env.client, escalation_id)).pages[3].staff_id == psychiatrist


async def test_the_course_lists_its_open_escalations_until_they_are_resolved(
    env: WorkflowEnvironment,
) -> None:
    persona = PERSONAS["responder"]
    course = await start(
        env.client, demo_course(new_course_id("escalated"), persona, time_scale=1.0)
    )
    await course.execute_update(TreatmentCourse.submit_assessment, assessment_for(persona))

    # PHQ-9 item 9 above 0: the course raises an urgent escalation.
    positive = Score(scale=Scale.PHQ9, total=14, item9=1)
    await course.execute_update(
        TreatmentCourse.record_score, ScoreReport(score=positive, reported_by="nurse-a")
    )
    status = await until(
        lambda: course_status(env.client, course), lambda s: bool(s.open_escalations)
    )
    [escalation] = status.open_escalations
    assert (escalation.severity, escalation.condition) == (Severity.URGENT, "self_harm_item")
    assert escalation.status is EscalationStatus.OPEN
    assert await open_escalations_attribute(env.client, course) == 1

    handle = handle_of(env.client, escalation.escalation_id)
    await handle.execute_update(
        Escalation.acknowledge, Acknowledge(by="psychiatrist-a", via=AckChannel.CONSOLE)
    )
    status = await until(
        lambda: course_status(env.client, course),
        lambda s: s.open_escalations[0].status is EscalationStatus.ACKNOWLEDGED,
    )
    await handle.execute_update(
        Escalation.resolve, Resolve(by="psychiatrist-a", note="Same-day call: safety plan in place")
    )

    status = await until(
        lambda: course_status(env.client, course), lambda s: not s.open_escalations
    )
    assert await open_escalations_attribute(env.client, course) == 0
    await course.execute_update(
        TreatmentCourse.discontinue, Discontinue(reason="test over", clinician="dr-a")
    )
    await course.result()


async def course_status(client: Client, course: WorkflowHandle[Any, Any]) -> CourseStatus:
    await quiet(client, course.id)
    status: CourseStatus = await course.query(TreatmentCourse.status)
    return status


async def open_escalations_attribute(
    client: Client, course: WorkflowHandle[Any, Any]
) -> int | None:
    await quiet(client, course.id)
    return (await course.describe()).typed_search_attributes.get(OPEN_ESCALATIONS)


async def until_self_harm_escalations(
    client: Client, course: WorkflowHandle[Any, Any], count: int
) -> list[str]:
    """The course's self-harm escalations still open, once there are `count` of them."""
    status = await until(
        lambda: course_status(client, course),
        lambda s: len([e for e in s.open_escalations if e.condition == "self_harm_item"]) == count,
    )
    return [e.escalation_id for e in status.open_escalations if e.condition == "self_harm_item"]


async def test_item9_above_0_pages_from_every_source_every_occurrence(
    env: WorkflowEnvironment,
) -> None:
    """S7 (review bugs 4 and 8): the baseline at assessment, a score report and a session's
    outcome each raise; a repeat while open joins it; after resolution it pages anew."""
    persona = PERSONAS["responder"]
    course = await start(env.client, demo_course(new_course_id("item9"), persona, time_scale=1.0))
    report = assessment_for(persona)
    positive = Score(scale=Scale.PHQ9, total=persona.baseline_phq9, item9=1)
    assessed = report.model_copy(
        update={"assessment": report.assessment.model_copy(update={"baseline_scores": (positive,)})}
    )

    await course.execute_update(TreatmentCourse.submit_assessment, assessed)
    [at_assessment] = await until_self_harm_escalations(env.client, course, 1)
    again = ScoreReport(score=Score(scale=Scale.PHQ9, total=15, item9=2), reported_by="nurse-a")
    await course.execute_update(TreatmentCourse.record_score, again)  # joins the open one
    await handle_of(env.client, at_assessment).execute_update(
        Escalation.resolve, Resolve(by="psychiatrist-a", note="same-day call, safety plan")
    )
    await until_self_harm_escalations(env.client, course, 0)
    await course.execute_update(TreatmentCourse.record_score, again)  # after it: a new one
    [from_a_score] = await until_self_harm_escalations(env.client, course, 1)
    await handle_of(env.client, from_a_score).execute_update(
        Escalation.resolve, Resolve(by="psychiatrist-a", note="seen the same day")
    )
    await until_self_harm_escalations(env.client, course, 0)
    status = await course_status(env.client, course)
    assert status.current_session is not None
    session = session_handle(env.client, status.current_session.workflow_id)
    await session.execute_update(
        DosingSession.report_outcome,
        OutcomeReport(
            outcome=SessionOutcome.CANCELLED,
            reported_by="nurse-a",
            score=Score(scale=Scale.PHQ9, total=16, item9=1),
            note="unwell, cancelled by phone",
        ),
    )
    [from_an_outcome] = await until_self_harm_escalations(env.client, course, 1)

    assert len({at_assessment, from_a_score, from_an_outcome}) == 3
    assert [e.rsplit("-", 1)[-1] for e in (at_assessment, from_a_score, from_an_outcome)] == [
        "1",
        "2",
        "3",
    ]
    assert (await details(env.client, at_assessment)).triggers == 2
    for escalation_id in (at_assessment, from_a_score, from_an_outcome):
        assert (await details(env.client, escalation_id)).pages, escalation_id
    await course.execute_update(
        TreatmentCourse.discontinue, Discontinue(reason="test over", clinician="dr-a")
    )
    await course.result()


async def test_a_phq9_is_taken_for_item9_screening_whatever_the_baseline_scale(
    env: WorkflowEnvironment,
) -> None:
    persona = PERSONAS["responder"]
    course = await start(env.client, demo_course(new_course_id("madrs"), persona, time_scale=1.0))
    report = assessment_for(persona)
    madrs_only = report.model_copy(
        update={
            "assessment": report.assessment.model_copy(
                update={"baseline_scores": (Score(scale=Scale.MADRS, total=34),)}
            )
        }
    )
    await course.execute_update(TreatmentCourse.submit_assessment, madrs_only)

    positive = ScoreReport(score=Score(scale=Scale.PHQ9, total=14, item9=1), reported_by="nurse-a")
    await course.execute_update(TreatmentCourse.record_score, positive)

    assert await until_self_harm_escalations(env.client, course, 1)
    await course.execute_update(
        TreatmentCourse.discontinue, Discontinue(reason="test over", clinician="dr-a")
    )
    await course.result()
