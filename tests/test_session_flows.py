"""Dosing sessions on the time-skipping server: the real worker, the embedded Postgres and the
HTTP API in-process. The course clock runs at scale 1, so protocol time is virtual time."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from cli.handles import session_handle
from cli.room import DRIVER
from cli.room import LOT as SIMULATED_LOT
from domain.conditions import Condition, Level, escalation_key
from domain.escalation import Severity, escalation_workflow_id
from domain.observations import LOCAL_SYSTEM, LOINC_SYSTEM
from domain.rems import BloodPressure, RemsMonitoringForm, form_id
from domain.session import ConcomitantMedication, SessionOutcome, SessionSummary, Stage
from domain.texts import reminder_text
from tests.sessions import (
    BETWEEN_DEVICES,
    DOCTOR,
    GATEWAY,
    LOT,
    NORMAL,
    NURSE,
    STABLE,
    InRoom,
    administration,
    at_minute,
    course_status,
    device_times,
    eventually,
    resolve_open_escalations,
    skip_to_check_in,
    sleep_until,
)
from workflows.session import DosingSession

pytestmark = pytest.mark.usefixtures("worker")

HIGH = {"systolic": 152, "diastolic": 94, "heart_rate": 80, "spo2": 98}
"""Above 140/90: the session holds for a clinician."""
CRITICAL = {"systolic": 205, "diastolic": 125, "heart_rate": 96, "spo2": 97}
"""At or above 200/120 once."""
BP_OK = {"systolic": 132, "diastolic": 84}
BP_HIGH = {"systolic": 150, "diastolic": 95}
VITALS_CODES = {"8480-6", "8462-4", "8867-4", "59408-5"}
"""LOINC: systolic, diastolic, heart rate, SpO2."""
BP_PANEL = "85354-9"
ROW_POLLS = 100
CLINIC_TIMEZONE = "America/New_York"
CLINIC_ZONE = ZoneInfo(CLINIC_TIMEZONE)


# --- Helpers -----------------------------------------------------------------------------------


async def escalations(room: InRoom, pool: asyncpg.Pool) -> dict[str, Severity]:
    """The escalations the session raised, by condition, once each occurrence has its alert
    row and the open ones their running Escalation workflow. (The one place that knows how
    an escalation shows.)"""
    occurrences = (await room.details()).escalations.by_condition
    workflow_id = room.session.workflow_id
    raised = [
        escalation_key(workflow_id, condition, number)
        for condition, occurrence in occurrences.items()
        for number in range(1, occurrence.number + 1)
    ]
    still_open = [
        escalation_key(workflow_id, condition, occurrence.number)
        for condition, occurrence in occurrences.items()
        if occurrence.open
    ]

    async def recorded() -> dict[str, Severity] | None:
        rows = await pool.fetch(
            "SELECT dedup_key, severity FROM alerts WHERE dedup_key = ANY($1::text[])", raised
        )
        if len(rows) < len(raised) or not all([await running(k) for k in still_open]):
            return None
        return {row["dedup_key"]: Severity(row["severity"]) for row in rows}

    async def running(dedup_key: str) -> bool:
        handle = room.env.client.get_workflow_handle(escalation_workflow_id(dedup_key))
        try:
            return (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return False
            raise

    severities = await eventually(recorded)
    return {
        str(condition): severities[escalation_key(workflow_id, condition, 1)]
        for condition in occurrences
    }


async def until_escalated(room: InRoom, pool: asyncpg.Pool, condition: str) -> dict[str, Severity]:
    async def raised() -> dict[str, Severity] | None:
        found = await escalations(room, pool)
        return found if condition in found else None

    return await eventually(raised, polls=100)


async def outbox_kinds(pool: asyncpg.Pool, course_id: str) -> Counter[str]:
    rows = await pool.fetch("SELECT kind FROM notification_outbox WHERE course_id = $1", course_id)
    return Counter(row["kind"] for row in rows)


async def clinic_notices(pool: asyncpg.Pool, course_id: str) -> list[tuple[str, str]]:
    """Reading-overdue notices to the nurse: (recipient, message)."""
    rows = await pool.fetch(
        "SELECT recipient, body FROM notification_outbox"
        " WHERE course_id = $1 AND kind = 'reading_overdue' ORDER BY id",
        course_id,
    )
    return [(row["recipient"], row["body"]) for row in rows]


async def session_row(pool: asyncpg.Pool, room: InRoom, **expected: object) -> asyncpg.Record:
    """The session's row once it shows `expected` (the session records an event just after
    its state moves on)."""
    row = None
    for _ in range(ROW_POLLS):
        row = await pool.fetchrow(
            "SELECT * FROM sessions WHERE course_id = $1 AND number = $2",
            room.course_id,
            room.session.number,
        )
        if row is not None and all(row[column] == v for column, v in expected.items()):
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"the session's row never showed {expected}: {row}")


async def doses(pool: asyncpg.Pool, course_id: str) -> list[tuple[int, int, str, list[datetime]]]:
    rows = await pool.fetch(
        "SELECT dose_mg, devices, lot, device_times FROM doses WHERE course_id = $1", course_id
    )
    return [(r["dose_mg"], r["devices"], r["lot"], r["device_times"]) for r in rows]


async def checked_in(room: InRoom) -> datetime:
    """The ride confirmed by staff, then the patient checked in an hour before the session;
    returns the check-in time."""
    await room.arrange_ride(confirm=True)
    await skip_to_check_in(room.env, room.session)
    at = await room.env.get_current_time()
    assert (await room.act("check-in")).stage is Stage.PRE_DOSE_VITALS
    return at


async def dosed(room: InRoom) -> datetime:
    """Checked in with normal vitals, then dosed 5 minutes later; returns the first device's
    time."""
    await checked_in(room)
    await room.vitals(NURSE, **NORMAL)
    await room.until_stage(Stage.READY_TO_DOSE)
    await room.env.sleep(timedelta(minutes=5))
    return await room.administer()


async def held(room: InRoom) -> int:
    """Checked in, with pre-dose BP above 140/90 from the gateway; returns the reading's id."""
    await checked_in(room)
    reading = await room.vitals(GATEWAY, **HIGH)
    state = await room.until_stage(Stage.HELD)
    assert [(r.reading_id, r.checkpoint, r.level, r.conditions) for r in state.readings] == [
        (reading, f"pre_dose-{reading}", Level.HOLD, (Condition.BP_ELEVATED,))
    ]
    return reading


async def delayed(room: InRoom) -> datetime:
    """Held, then delayed by the clinician to three days later; returns the new time."""
    await held(room)
    new_time = room.session.scheduled_at + timedelta(days=3)
    decision = {"proceed": False, "note": "BP high today", "reschedule_to": new_time.isoformat()}
    decided = await room.act("hold-decision", decision, headers=DOCTOR)
    assert decided.hold_decision is not None
    assert decided.hold_decision.reschedule_to == new_time
    return new_time


async def dose_time(room: InRoom) -> datetime:
    """When the session learned of the dose: the 40 minutes and the 2 hours count from it."""
    dosed_at = (await room.details()).dosed_at
    assert dosed_at is not None
    return dosed_at


async def summary(room: InRoom) -> SessionSummary:
    handle = session_handle(room.env.client, room.session.workflow_id)
    return await handle.query(DosingSession.summary)  # once idle (`tests.sandbox.QuietQueries`)


# --- A normal session --------------------------------------------------------------------------


async def test_a_normal_session_is_recorded_once_and_reported_to_the_course(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    await room.arrange_ride(confirm=True)
    await skip_to_check_in(room.env, room.session)
    before_the_session = await outbox_kinds(db_pool, room.course_id)
    course = await course_status(room.env.client, room.course_id)

    await room.player.attend(room.course_id, room.session, course.clock, dose_mg=56)

    result = await room.result()
    await room.rems_filed()
    assert (result.outcome, result.dose_mg) == (SessionOutcome.ATTENDED, 56)
    assert await escalations(room, db_pool) == {}
    reminders_and_ride = {"transport_request": 1, "reminder_48h": 1, "reminder_24h": 1}
    assert before_the_session == reminders_and_ride
    assert await outbox_kinds(db_pool, room.course_id) == {
        **reminders_and_ride,
        "rems_monitoring_form": 1,
    }
    observations = await db_pool.fetch(
        "SELECT checkpoint, code_system, code, panel_code FROM observations WHERE course_id = $1",
        room.course_id,
    )
    coded = Counter(
        (re.sub(r"-\d+$", "", o["checkpoint"]), o["code_system"], o["code"], o["panel_code"])
        for o in observations
    )
    local = {(LOCAL_SYSTEM, "moaas", None), (LOCAL_SYSTEM, "cadss", None)}
    signs = {
        (LOINC_SYSTEM, code, BP_PANEL if code in {"8480-6", "8462-4"} else None)
        for code in VITALS_CODES
    }
    assert coded == Counter(
        [("pre_dose", *sign) for sign in signs]
        + [
            (checkpoint, *sign)
            for checkpoint in ("post_dose_40m", "monitoring")
            for sign in signs | local
        ]
    )
    [(dose_mg, devices, lot, (first_device, second_device))] = await doses(db_pool, room.course_id)
    assert (dose_mg, devices, lot) == (56, 2, SIMULATED_LOT)
    assert second_device - first_device >= BETWEEN_DEVICES
    forms = await db_pool.fetch(
        "SELECT status, due_at FROM rems_forms WHERE course_id = $1", room.course_id
    )
    assert [(f["status"], f["due_at"]) for f in forms] == [
        ("submitted", room.session.scheduled_at + timedelta(days=7))
    ]
    record = await session_row(db_pool, room, stage=Stage.DISCHARGED)
    assert record["discharged_at"] - first_device >= timedelta(hours=2)

    async def recorded_by_course() -> SessionSummary | None:
        status = await course_status(room.env.client, room.course_id)
        return status.recent_sessions[-1] if status.sessions_done == 1 else None

    assert await eventually(recorded_by_course) == result


# --- A high blood pressure hold ----------------------------------------------------------------


async def test_a_hold_waits_for_the_clinician_then_proceeds_to_dosing(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    await held(room)
    now = await room.env.get_current_time()

    too_soon = await room.send("administration", administration(now))
    decided = await room.act(
        "hold-decision",
        {"proceed": True, "note": "repeat reading acceptable, benefit outweighs risk"},
        headers=DOCTOR,
    )
    await room.until_stage(Stage.READY_TO_DOSE)
    first_device = await room.administer()

    assert (too_soon.status_code, too_soon.json()) == (
        409,
        {"detail": "the session is held, not ready_to_dose"},
    )
    assert decided.hold_decision is not None
    assert (decided.hold_decision.proceed, decided.hold_decision.clinician) == (True, "dr-test")
    assert await doses(db_pool, room.course_id) == [(56, 2, LOT, device_times(first_device, 56))]
    assert (await session_row(db_pool, room, stage=Stage.MONITORING))["held_at"] is not None
    assert await escalations(room, db_pool) == {}  # a hold is the clinician's call, not a page


async def test_a_hold_delayed_to_a_later_time_returns_the_session_to_scheduled(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    new_time = await delayed(room)

    state = await room.until_stage(Stage.SCHEDULED)
    assert state.scheduled_at == new_time
    assert state.hold_decision is not None and state.hold_decision.reschedule_to == new_time
    moved = await summary(room)
    assert (moved.scheduled_at, moved.outcome) == (new_time, None)
    await session_row(db_pool, room, stage=Stage.SCHEDULED, scheduled_at=new_time)
    assert await doses(db_pool, room.course_id) == []


async def test_a_hold_delayed_to_a_later_time_is_attended_then(room: InRoom) -> None:
    new_time = await delayed(room)
    await room.until_stage(Stage.SCHEDULED)
    await sleep_until(room.env, new_time - timedelta(hours=1))

    await room.act("check-in")
    reading = await room.vitals(NURSE, **NORMAL)
    state = await room.until_stage(Stage.READY_TO_DOSE, Stage.HELD)
    assert (state.stage, state.readings[-1].reading_id) == (Stage.READY_TO_DOSE, reading)
    await room.administer()
    dosed_at = await dose_time(room)
    await at_minute(room, dosed_at, 40)
    await room.vitals(NURSE, **BP_OK)
    await at_minute(room, dosed_at, 121)
    await room.until_judged(await room.vitals(NURSE, **STABLE))
    await room.act("discharge")

    result = await room.result()
    assert (result.outcome, result.scheduled_at) == (SessionOutcome.ATTENDED, new_time)


async def test_a_hold_delayed_to_a_later_time_moves_the_courses_next_session(
    room: InRoom,
) -> None:
    new_time = await delayed(room)
    await room.until_stage(Stage.SCHEDULED)

    status = await course_status(room.env.client, room.course_id)

    assert status.next_session_at == new_time


async def test_a_hold_delayed_to_a_later_time_reminds_the_patient_of_it(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    new_time = await delayed(room)
    await room.until_stage(Stage.SCHEDULED)

    await sleep_until(room.env, new_time - timedelta(hours=1))

    reminders = await db_pool.fetch(
        "SELECT body FROM notification_outbox WHERE course_id = $1 AND kind = 'reminder_24h'",
        room.course_id,
    )
    assert reminder_text(new_time, CLINIC_TIMEZONE) in [r["body"] for r in reminders]


async def test_a_hold_delayed_without_a_new_time_is_not_dosed(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    await held(room)

    await room.act("hold-decision", {"proceed": False, "note": "BP high today"}, headers=DOCTOR)

    result = await room.result()
    reason = "delayed by dr-test: BP high today"
    assert (result.outcome, result.reason) == (SessionOutcome.CANCELLED, f"not dosed: {reason}")
    await session_row(db_pool, room, stage=Stage.NOT_DOSED, not_dosed_reason=reason)
    assert await doses(db_pool, room.course_id) == []


# --- Transport ---------------------------------------------------------------------------------


async def test_without_a_confirmed_ride_the_clinic_is_alerted_and_no_dose_is_given(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    await room.arrange_ride(confirm=False)  # the driver is asked, but never answers
    two_hours_before = room.session.scheduled_at - timedelta(hours=2)
    await sleep_until(room.env, two_hours_before - timedelta(minutes=1))
    assert await escalations(room, db_pool) == {}
    await sleep_until(room.env, two_hours_before + timedelta(minutes=1))
    assert await until_escalated(room, db_pool, "transport_unconfirmed") == {
        "transport_unconfirmed": Severity.ROUTINE
    }

    await skip_to_check_in(room.env, room.session)
    await room.act("check-in")
    await room.vitals(NURSE, **NORMAL)
    await room.until_stage(Stage.READY_TO_DOSE)
    refused = await room.send("administration", administration(await room.env.get_current_time()))
    cancelled = await room.send("outcome", {"outcome": "cancelled", "note": "no ride home"})

    assert (refused.status_code, refused.json()) == (
        409,
        {"detail": "no dose without a confirmed ride home"},
    )
    assert cancelled.status_code == 200, cancelled.text
    result = await room.result()
    assert (result.outcome, result.reason, result.dose_mg) == (
        SessionOutcome.CANCELLED,
        "no ride home",
        None,
    )
    assert await doses(db_pool, room.course_id) == []
    assert (await outbox_kinds(db_pool, room.course_id))["transport_request"] == 1


async def test_another_driver_revokes_the_confirmation_and_is_asked_at_once(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    """Review bug 12: the old driver's YES no longer lets the patient be dosed, and a driver
    named after the 48-hour request is texted at once."""
    await room.arrange_ride(confirm=True)
    await skip_to_check_in(room.env, room.session)  # past the 48 h request
    assert (await room.details()).transport_confirmed_via is not None

    other = {"driver_name": "Alex Other", "driver_phone": "+15550100888"}
    renamed = await room.send("transport", other, method="PUT")
    state = await room.details()
    await room.act("check-in")
    await room.until_judged(await room.vitals(NURSE, **NORMAL))
    refused = await room.send("administration", administration(await room.env.get_current_time()))

    assert renamed.status_code == 204, renamed.text
    assert state.transport_confirmed_via is None
    assert (refused.status_code, refused.json()) == (
        409,
        {"detail": "no dose without a confirmed ride home"},
    )

    async def asked() -> list[str] | None:
        rows = await db_pool.fetch(
            "SELECT recipient FROM notification_outbox"
            " WHERE course_id = $1 AND kind = 'transport_request' ORDER BY id",
            room.course_id,
        )
        return [r["recipient"] for r in rows] if len(rows) == 2 else None

    assert await eventually(asked) == [DRIVER["driver_phone"], other["driver_phone"]]


# --- Monitoring and discharge ------------------------------------------------------------------


async def test_an_spo2_drop_during_monitoring_escalates_once(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    await dosed(room)
    await at_minute(room, await dose_time(room), 20)

    low = await room.vitals(GATEWAY, spo2=86, heart_rate=92)
    state = await room.until_judged(low)
    await room.env.sleep(timedelta(minutes=2))
    lower = await room.vitals(GATEWAY, spo2=87, heart_rate=90)  # joins the open escalation
    again = await room.until_judged(lower)

    judged = state.readings[-1]
    assert (judged.checkpoint, judged.level, judged.conditions) == (
        f"monitoring-{low}",
        Level.CRITICAL,
        (Condition.SPO2_LOW,),
    )
    assert again.readings[-1].conditions == (Condition.SPO2_LOW,)
    assert again.escalations.by_condition[Condition.SPO2_LOW].triggers == 2
    assert await escalations(room, db_pool) == {"spo2_low": Severity.CRITICAL}


async def test_discharge_is_refused_before_2_hours_and_accepted_after(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    await dosed(room)
    dosed_at = await dose_time(room)
    too_early = {"detail": "discharge only after the full monitoring period since the dose"}

    at_once = await room.send("discharge", {})
    await at_minute(room, dosed_at, 40)
    await room.until_judged(await room.vitals(NURSE, **BP_OK))
    await at_minute(room, dosed_at, 115)
    await room.until_judged(await room.vitals(NURSE, **STABLE))
    await at_minute(room, dosed_at, 119)
    a_minute_short = await room.send("discharge", {})
    await at_minute(room, dosed_at, 121)
    discharged = await room.send("discharge", {})

    assert (at_once.status_code, at_once.json()) == (409, too_early)
    assert (a_minute_short.status_code, a_minute_short.json()) == (409, too_early)
    assert discharged.status_code == 200, discharged.text
    result = await room.result()
    assert result.outcome is SessionOutcome.ATTENDED
    assert await escalations(room, db_pool) == {}


async def test_bp_not_safe_at_2_hours_escalates_and_holds_the_discharge(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    await dosed(room)
    dosed_at = await dose_time(room)
    await at_minute(room, dosed_at, 40)
    await room.vitals(NURSE, **BP_OK)
    await at_minute(room, dosed_at, 110)
    await room.until_judged(await room.vitals(NURSE, **{**STABLE, **BP_HIGH}))
    assert await escalations(room, db_pool) == {}

    await at_minute(room, dosed_at, 121)
    raised = await until_escalated(room, db_pool, "bp_not_safe_at_end_of_monitoring")
    while_open = await room.send("discharge", {})
    await resolve_open_escalations(room)
    still_high = await room.send("discharge", {})
    await room.until_judged(await room.vitals(NURSE, **STABLE))
    discharged = await room.send("discharge", {})

    assert raised == {"bp_not_safe_at_end_of_monitoring": Severity.URGENT}
    assert (while_open.status_code, while_open.json()) == (
        409,
        {"detail": "an escalation of this session is open: bp_not_safe_at_end_of_monitoring"},
    )
    assert (still_high.status_code, still_high.json()) == (
        409,
        {
            "detail": "vitals not acceptable for discharge: "
            "blood pressure 150/95 is not back to a safe level"
        },
    )
    assert discharged.status_code == 200, discharged.text
    assert (await room.result()).outcome is SessionOutcome.ATTENDED


async def test_the_rems_form_holds_every_field_from_the_record(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    first_device = await dosed(room)
    dosed_at = await dose_time(room)
    await at_minute(room, dosed_at, 40)
    await room.vitals(NURSE, systolic=138, diastolic=88, heart_rate=80, spo2=97, moaas=4, cadss=12)
    await at_minute(room, dosed_at, 121)
    last = await room.vitals(NURSE, **STABLE, cadss=0)
    await room.until_judged(last)
    await at_minute(room, dosed_at, 125)
    medications = ["opioids", "benzodiazepines"]

    await room.act(
        "discharge", {"concomitant_medications": medications, "respiratory_depression": True}
    )
    await room.result()
    await room.rems_filed()

    [row] = await db_pool.fetch(
        "SELECT payload, status FROM rems_forms WHERE course_id = $1", room.course_id
    )
    assert row["status"] == "submitted"
    taken = {
        r["checkpoint"]: r["taken_at"]
        for r in await db_pool.fetch(
            "SELECT checkpoint, taken_at FROM observations WHERE course_id = $1 AND code = $2",
            room.course_id,
            "8480-6",
        )
    }
    [pre_dose] = [c for c in taken if c.startswith("pre_dose-")]
    discharged_at = (await session_row(db_pool, room))["discharged_at"]
    course_id = room.course_id
    assert RemsMonitoringForm.model_validate(row["payload"]) == RemsMonitoringForm(
        form_id=form_id(course_id, 1),
        course_id=course_id,
        patient_ref=f"ref-{course_id}",
        clinic_id="demo-clinic",
        session=1,
        treatment_date=first_device.astimezone(CLINIC_ZONE).date(),
        dose_mg=56,
        devices=2,
        lot=LOT,
        first_device_at=first_device,
        monitoring_ended_at=discharged_at,
        # From the first device: the second 5 minutes on, then 125 minutes to discharge.
        total_monitoring_minutes=130,
        monitored_at_least_2h=True,
        ready_to_leave_at=first_device + timedelta(hours=2),
        vitals_acceptable_before_dosing=True,
        vitals_acceptable_before_completion=True,
        bp_before_dosing=BloodPressure(
            systolic=NORMAL["systolic"], diastolic=NORMAL["diastolic"], taken_at=taken[pre_dose]
        ),
        bp_at_40_min=BloodPressure(systolic=138, diastolic=88, taken_at=taken["post_dose_40m"]),
        bp_before_completion=BloodPressure(
            systolic=126, diastolic=80, taken_at=taken[f"monitoring-{last}"]
        ),
        sedation=True,
        lowest_moaas=4,
        dissociation=True,
        highest_cadss=12,
        respiratory_depression=True,
        concomitant_medications=(
            ConcomitantMedication.BENZODIAZEPINES,
            ConcomitantMedication.OPIOIDS,
        ),
    )


# --- Vitals that stop the session or do not come ------------------------------------------------


async def test_a_critical_pre_dose_reading_means_no_dose_and_an_escalation(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    await checked_in(room)

    await room.vitals(GATEWAY, **CRITICAL)

    result = await room.result()
    reason = "critical pre-dose vitals: bp_critical"
    assert (result.outcome, result.reason) == (SessionOutcome.CANCELLED, f"not dosed: {reason}")
    state = await room.details()
    assert (state.stage, state.not_dosed_reason) == (Stage.NOT_DOSED, reason)
    assert await escalations(room, db_pool) == {"bp_critical": Severity.CRITICAL}
    await session_row(db_pool, room, stage=Stage.NOT_DOSED, not_dosed_reason=reason)
    assert await doses(db_pool, room.course_id) == []


async def test_a_late_reading_reminds_the_nurse_then_escalates(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    since = await checked_in(room)
    reminder = ("nurse", "Session 1: pre-dose vitals reading is due")

    await sleep_until(room.env, since + timedelta(minutes=9))
    assert await clinic_notices(db_pool, room.course_id) == []

    await sleep_until(room.env, since + timedelta(minutes=11))

    async def reminded() -> list[tuple[str, str]] | None:
        return await clinic_notices(db_pool, room.course_id) or None

    assert await eventually(reminded) == [reminder]
    assert await escalations(room, db_pool) == {}

    await sleep_until(room.env, since + timedelta(minutes=21))
    assert await until_escalated(room, db_pool, "reading_overdue_pre_dose") == {
        "reading_overdue_pre_dose": Severity.ROUTINE
    }
    assert await clinic_notices(db_pool, room.course_id) == [reminder]  # reminded once

    # The reading comes at last: the session goes on.
    await room.vitals(NURSE, **NORMAL)
    assert (await room.until_stage(Stage.READY_TO_DOSE)).stage is Stage.READY_TO_DOSE


# --- The safety net: the review's defects, each through the API ------------------------------

SEVERE = {"systolic": 185, "diastolic": 100, "heart_rate": 88, "spo2": 97}
"""At or above 180/110 once: held; again 5 minutes later, critical."""


async def test_a_critical_cuff_reading_is_judged_though_an_oximeter_reading_follows(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    """Review bug 2: every reading is judged by its id, not only the newest."""
    await checked_in(room)

    await room.vitals(NURSE, systolic=212, diastolic=124)
    taken_at = (await room.env.get_current_time()).isoformat()
    oximeter = {"taken_at": taken_at, "spo2": 97, "heart_rate": 80}
    after = await room.send("vitals", oximeter, headers=GATEWAY)

    result = await room.result()
    # Stored and judged too if the session still listened; refused once it had ended.
    assert after.status_code in (202, 409), after.text
    assert (result.outcome, result.reason) == (
        SessionOutcome.CANCELLED,
        "not dosed: critical pre-dose vitals: bp_critical",
    )
    assert await escalations(room, db_pool) == {"bp_critical": Severity.CRITICAL}


async def test_a_severe_bp_again_while_held_stops_the_dose(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    """Review bug 3: readings while held are judged at once, so the two-reading rule can stop
    a dose."""
    await checked_in(room)
    await room.vitals(NURSE, **SEVERE)
    await room.until_stage(Stage.HELD)

    await room.env.sleep(timedelta(minutes=5))
    await room.vitals(NURSE, **{**SEVERE, "systolic": 182, "diastolic": 112})

    result = await room.result()
    assert result.reason == "not dosed: critical pre-dose vitals: bp_critical"
    assert await escalations(room, db_pool) == {"bp_critical": Severity.CRITICAL}


async def test_a_held_session_tells_the_prescriber_then_escalates_when_undecided(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    """Review bug 10 (S6)."""
    await held(room)

    async def told() -> list[str] | None:
        rows = await db_pool.fetch(
            "SELECT recipient FROM notification_outbox WHERE course_id = $1 AND kind = $2",
            room.course_id,
            "session_held",
        )
        return [r["recipient"] for r in rows] or None

    assert await eventually(told) == ["prescriber"]
    assert await escalations(room, db_pool) == {}
    await room.env.sleep(timedelta(minutes=16))
    assert await until_escalated(room, db_pool, "hold_undecided") == {
        "hold_undecided": Severity.ROUTINE
    }


async def test_no_dose_without_blood_pressure_heart_rate_and_spo2(room: InRoom) -> None:
    """Review bug 6: an oximeter-only pre-dose reading is no pre-dose set."""
    await checked_in(room)
    await room.until_judged(await room.vitals(GATEWAY, spo2=98, heart_rate=76))

    refused = await room.send("administration", administration(await room.env.get_current_time()))
    await room.until_judged(await room.vitals(NURSE, **BP_OK))
    ready = await room.until_stage(Stage.READY_TO_DOSE)

    assert (refused.status_code, refused.json()) == (
        409,
        {"detail": "the session is pre_dose_vitals, not ready_to_dose"},
    )
    assert ready.stage is Stage.READY_TO_DOSE


async def test_devices_out_of_order_are_refused_and_too_close_are_recorded_with_an_alert(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    """S3: each device's time is recorded as the clinic gives it. Times out of order are bad
    input; devices used closer than the label's 5 minutes were still used, so the dose is
    recorded (and monitored) and the prescriber is alerted."""
    await checked_in(room)
    await room.until_judged(await room.vitals(NURSE, **NORMAL))
    await room.until_stage(Stage.READY_TO_DOSE)
    first = await room.env.get_current_time()
    await sleep_until(room.env, first + BETWEEN_DEVICES)
    hurried = [first + BETWEEN_DEVICES - timedelta(minutes=1), first + BETWEEN_DEVICES]

    reversed_ = await room.send("administration", dose_body(hurried[::-1]))
    recorded = await room.act("administration", dose_body(hurried))

    assert reversed_.status_code == 422
    assert "device_times must be in the order the devices were used" in reversed_.text
    assert recorded.stage is Stage.MONITORING
    assert recorded.administration is not None
    assert list(recorded.administration.device_times) == hurried
    assert await until_escalated(room, db_pool, "devices_too_close") == {
        "devices_too_close": Severity.ROUTINE
    }


def dose_body(times: list[datetime]) -> dict[str, object]:
    return {"dose_mg": 56, "lot": LOT, "device_times": [at.isoformat() for at in times]}


async def test_back_dated_device_times_are_refused_and_move_no_gate(room: InRoom) -> None:
    """Review bug 5 (S5): the 2 hours count from when the session learned of the dose."""
    await checked_in(room)
    await room.until_judged(await room.vitals(NURSE, **NORMAL))
    now = await room.env.get_current_time()

    back_dated = await room.send("administration", administration(now - timedelta(hours=3)))
    await room.administer()
    await at_minute(room, await dose_time(room), 20)
    await room.until_judged(await room.vitals(NURSE, **STABLE))
    too_soon = await room.send("discharge", {})

    assert (back_dated.status_code, back_dated.json()) == (
        409,
        {"detail": "device_times must be after check-in and not in the future"},
    )
    assert too_soon.status_code == 409
    assert too_soon.json()["detail"].startswith("discharge only after the full monitoring")


@pytest.mark.parametrize(
    ("last_readings", "why"),
    [
        pytest.param(
            [{**STABLE, "heart_rate": 130}, {**STABLE, "heart_rate": 128}],
            "an escalation of this session is open: heart_rate_sustained",
            id="sustained-heart-rate",
        ),
        pytest.param(
            [{**STABLE, "spo2": 86}, BP_OK],
            "an escalation of this session is open: spo2_low",
            id="low-spo2-then-bp-only",
        ),
        pytest.param(
            [{"heart_rate": 74, "spo2": 98, "moaas": 5}],
            "vitals not acceptable for discharge: no blood pressure",
            id="no-blood-pressure",
        ),
        pytest.param(
            [{**STABLE, "moaas": 3}],
            "vitals not acceptable for discharge: MOAA/S 3: not awake and alert",
            id="still-sedated",
        ),
    ],
)
async def test_discharge_needs_acceptable_vitals_and_no_open_escalation(
    room: InRoom, last_readings: list[dict[str, int]], why: str
) -> None:
    """Review bug 7 (S4)."""
    await dosed(room)
    dosed_at = await dose_time(room)
    await at_minute(room, dosed_at, 40)
    await room.until_judged(await room.vitals(NURSE, **BP_OK))
    await at_minute(room, dosed_at, 115)
    for signs in last_readings:
        await room.until_judged(await room.vitals(NURSE, **signs))
        await room.env.sleep(timedelta(minutes=2))
    await at_minute(room, dosed_at, 125)

    refused = await room.send("discharge", {})

    assert (refused.status_code, refused.json()) == (409, {"detail": why})


async def test_the_same_deterioration_after_its_resolution_pages_again(
    room: InRoom, db_pool: asyncpg.Pool
) -> None:
    """Review bug 1 (S2): a resolved occurrence leaves the condition free to page anew."""
    await dosed(room)
    await at_minute(room, await dose_time(room), 50)
    await room.until_judged(await room.vitals(GATEWAY, spo2=86, heart_rate=92))
    await resolve_open_escalations(room)

    await room.env.sleep(timedelta(minutes=20))
    await room.until_judged(await room.vitals(GATEWAY, spo2=84, heart_rate=95))

    async def second() -> int | None:
        occurrence = (await room.details()).escalations.by_condition[Condition.SPO2_LOW]
        return occurrence.number if occurrence.open else None

    assert await eventually(second) == 2
    key = escalation_key(room.session.workflow_id, Condition.SPO2_LOW, 2)
    handle = room.env.client.get_workflow_handle(escalation_workflow_id(key))
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING


# --- No idle churn -----------------------------------------------------------------------------

IDLE_DAY = timedelta(days=1)
SESSION_EVENT_BUDGET = 400
"""History events a dosing session may hold, whatever happens in the room."""


@pytest.mark.parametrize("left", ["before its pre-dose vitals", "without its 40-minute BP"])
async def test_a_session_left_in_the_room_for_a_day_stays_within_its_event_budget(
    room: InRoom, db_pool: asyncpg.Pool, left: str
) -> None:
    """The overdue reading is reminded, then escalated; after that the session waits for it
    without a timer, so a day of nothing adds nothing to its history."""
    if left == "before its pre-dose vitals":
        await checked_in(room)
        overdue = Condition.PRE_DOSE_READING_OVERDUE
    else:
        await dosed(room)
        overdue = Condition.BP_READING_OVERDUE
    await room.env.sleep(IDLE_DAY)
    await until_escalated(room, db_pool, overdue.value)
    handle = room.env.client.get_workflow_handle(room.session.workflow_id)
    events = [event async for event in handle.fetch_history_events()]
    assert len(events) <= SESSION_EVENT_BUDGET, f"{len(events)} events after a day {left}"
