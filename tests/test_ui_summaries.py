"""The Temporal UI reads like the clinic's day: a session held for its blood pressure, dosed and
paged for a low SpO2, read back through the client as the UI reads it (the history, its
summaries decoded by the codec), with the workflows' current details."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from cli.localstack import run_histories
from cli.room import ClinicApi
from domain.conditions import Condition
from domain.contract import course_workflow_id, rems_filing_workflow_id
from domain.session import Stage
from tests.escalations import nurse_on_call
from tests.sessions import (
    DOCTOR,
    GATEWAY,
    NORMAL,
    NURSE,
    InRoom,
    at_minute,
    discharge_if_dosed,
    discontinue,
    eventually,
    scheduled_session,
    skip_to_check_in,
)
from tests.ui_history import NurseByUpdate, current_details, first_escalation_id, summaries
from worker.codec import ENCODING

pytestmark = pytest.mark.usefixtures("worker")

ON_CALL = "nurse-ui"

HIGH = {"systolic": 152, "diastolic": 94, "heart_rate": 80, "spo2": 98}
LOW_SPO2 = {"spo2": 86, "heart_rate": 92}
NOTE = "repeat reading acceptable"

Steps = list[tuple[str, str]]


async def steps(room: InRoom, workflow_id: str) -> Steps:
    """(event type, decoded summary) of every summarised event, over every run."""
    client = room.env.client
    return [
        (step.event_type, step.summary)
        for history in await run_histories(client, workflow_id)
        for step in await summaries(client, history)
    ]


async def stored_encodings(room: InRoom, *workflow_ids: str) -> set[bytes]:
    return {
        event.user_metadata.summary.metadata["encoding"]
        for workflow_id in workflow_ids
        for history in await run_histories(room.env.client, workflow_id)
        for event in history.events
        if event.user_metadata.HasField("summary")
    }


def in_order(expected: Sequence[tuple[str, str]], found: Steps) -> bool:
    remaining = iter(found)
    return all(step in remaining for step in expected)


@pytest.fixture
async def room(
    api: httpx.AsyncClient, clinic: ClinicApi, env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> AsyncIterator[InRoom]:
    """A new course's first session, at a clinic of its own with a nurse on call to page."""
    clinic_id = f"ui-{uuid.uuid4().hex[:8]}"
    await nurse_on_call(db_pool, clinic_id, ON_CALL)
    room = await scheduled_session(api, clinic, env, db_pool, "ui", clinic_id)
    yield room
    await discharge_if_dosed(room)
    await discontinue(env.client, room.course_id)


async def test_a_held_and_paged_session_reads_like_the_clinics_day(room: InRoom) -> None:
    client, course_id = room.env.client, room.course_id
    session_id = room.session.workflow_id
    escalation_id = first_escalation_id(course_id, room.session.number, Condition.SPO2_LOW)
    nurse = NurseByUpdate(client, by=ON_CALL)
    await room.arrange_ride(confirm=True)
    await skip_to_check_in(room.env, room.session)
    await room.act("check-in")
    await room.vitals(GATEWAY, **HIGH)
    await room.until_stage(Stage.HELD)
    held = await current_details(client, session_id)
    course_then = await current_details(client, course_workflow_id(course_id))
    decision = {"proceed": True, "note": NOTE}
    await room.act("hold-decision", decision, headers=DOCTOR)
    await room.vitals(NURSE, **NORMAL)
    await room.until_stage(Stage.READY_TO_DOSE)
    decided = await current_details(client, session_id)
    await room.env.sleep(timedelta(minutes=5))
    await room.administer()
    dosed_at = (await room.details()).dosed_at
    assert dosed_at is not None
    await at_minute(room, dosed_at, 20)
    await room.until_judged(await room.vitals(GATEWAY, **LOW_SPO2))
    await nurse.acknowledge(course_id, room.session.number, Condition.SPO2_LOW)
    acknowledged = await current_details(client, escalation_id)
    await nurse.resolve(escalation_id, "SpO2 back to 97%")

    async def heard() -> bool | None:
        occurrences = (await room.details()).escalations.by_condition.values()
        return None if any(o.open for o in occurrences) else True

    await eventually(heard)
    await discharge_if_dosed(room)
    await room.rems_filed()

    # Summaries are user metadata, which the SDK encodes with the payload codec: none is
    # stored in the clear, so a judged reading may show its values.
    assert await stored_encodings(room, session_id, escalation_id) == {ENCODING}
    session = await steps(room, session_id)
    assert in_order(
        [
            ("WORKFLOW_EXECUTION_STARTED", "Session 1 (induction)"),
            ("TIMER_STARTED", "48 h before: ride request and reminder"),
            ("ACTIVITY_TASK_SCHEDULED", "ride home requested (driver texted)"),
            ("ACTIVITY_TASK_SCHEDULED", "48 h reminder sent"),
            ("TIMER_STARTED", "24 h reminder"),
            ("ACTIVITY_TASK_SCHEDULED", "24 h reminder sent"),
            ("ACTIVITY_TASK_SCHEDULED", "session checked in"),
            ("MARKER_RECORDED", "pre-dose vitals judged: hold BP 152/94"),
            ("MARKER_RECORDED", "pre-dose vitals judged: normal"),
            ("ACTIVITY_TASK_SCHEDULED", "dose recorded: 56 mg, 2 devices"),
            ("MARKER_RECORDED", "alert raised: critical spo2_low #1 (SpO2 86%)"),
            ("MARKER_RECORDED", "monitoring vitals judged: critical SpO2 86%"),
            ("ACTIVITY_TASK_SCHEDULED", "session discharged"),
            ("ACTIVITY_TASK_SCHEDULED", "REMS form handed to its filing"),
        ],
        session,
    ), session
    assert {
        ("ACTIVITY_TASK_SCHEDULED", "clinic told: session held"),
        ("TIMER_STARTED", "held: clinician decision due"),
        ("TIMER_STARTED", "monitoring: 2 h floor or BP due"),
    } <= set(session)
    escalation = await steps(room, escalation_id)
    assert in_order(
        [
            ("ACTIVITY_TASK_SCHEDULED", "escalation raised"),
            ("MARKER_RECORDED", "paged nurse (rung 1)"),
            ("TIMER_STARTED", "nurse has 5 min to acknowledge"),
            ("ACTIVITY_TASK_SCHEDULED", "escalation acknowledged by nurse-ui"),
            ("ACTIVITY_TASK_SCHEDULED", "pager service told: acknowledge"),
            ("ACTIVITY_TASK_SCHEDULED", "escalation resolved by nurse-ui"),
        ],
        escalation,
    ), escalation
    rems = await steps(room, rems_filing_workflow_id(course_id, room.session.number))
    assert ("ACTIVITY_TASK_SCHEDULED", "REMS form submitted to the portal") in rems
    course = await steps(room, course_workflow_id(course_id))
    assert ("ACTIVITY_TASK_SCHEDULED", "patient registered, clinic protocol pinned") in course
    # Current details, as the UI's query answers them: where each workflow stands, no note.
    assert "**Stage** held" in held
    assert "**Ride home** confirmed (staff)" in held
    assert "**Readings judged** 1, the last hold" in held
    assert "**Next session** 1, " in course_then
    assert "**Awaiting** session" in course_then
    assert "**Status** acknowledged" in acknowledged
    assert f"**Paged** nurse {ON_CALL} (via " in acknowledged
    assert f"**Acknowledged by** {ON_CALL} (console)" in acknowledged
    assert "**Stage** ready_to_dose" in decided
    assert "**Readings judged** 2, the last normal" in decided
    assert NOTE not in decided
