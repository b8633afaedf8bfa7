"""The clinical record's activities against the embedded Postgres: each effect written once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio.client import Client

from activities.alerts import Alerts
from activities.dosing import SessionRecords
from activities.patients import PatientRegistry
from activities.vitals import VitalsRecords
from domain.conditions import Condition
from domain.escalation import Severity
from domain.notices import Channel
from domain.protocol import VitalsLimits
from domain.records import (
    Alert,
    AlertOutcome,
    DoseRecord,
    PatientRegistration,
    ReadingJudgement,
    SessionEvent,
    SessionEventRecord,
)
from domain.session import Administration, ConcomitantMedication, Discharge
from domain.vitals import VitalSigns, classify
from store.audit import record_audit
from store.readings import insert_reading
from tests.activity_runs import registration, run

T0 = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


async def registered(pool: asyncpg.Pool) -> PatientRegistration:
    course = registration()
    await run(PatientRegistry(pool).register_patient, course)
    return course


async def test_registering_again_never_duplicates_nor_overwrites(db_pool: asyncpg.Pool) -> None:
    course = registration()
    register = PatientRegistry(db_pool).register_patient

    await run(register, course)
    await run(register, course)
    moved = course.patient.model_copy(
        update={"phone": "+15551239999", "reminders_by": frozenset(Channel)}
    )
    await run(register, course.model_copy(update={"patient": moved}))

    patients = await db_pool.fetch(
        "SELECT phone, reminders_by FROM patients WHERE patient_ref = $1", course.patient_ref
    )
    courses = await db_pool.fetch(
        "SELECT patient_ref, clinic_timezone FROM courses WHERE course_id = $1", course.course_id
    )
    # Other details in a registration never replace the recorded ones (a change is its own
    # audited action: tests/test_patients.py).
    assert [tuple(r) for r in patients] == [(course.patient.phone, ["sms"])]
    assert [tuple(r) for r in courses] == [(course.patient_ref, "America/New_York")]


def judgement(
    course: PatientRegistration, checkpoint: str, reading_id: int, *earlier: VitalSigns
) -> ReadingJudgement:
    """The session's judgement of a stored reading (the pure rule, as the session applies it)."""
    return ReadingJudgement(
        course_id=course.course_id,
        session=1,
        reading_id=reading_id,
        checkpoint=checkpoint,
        classification=classify(SIGNS[reading_id], earlier, VitalsLimits()),
    )


SIGNS: dict[int, VitalSigns] = {}


async def reading(
    pool: asyncpg.Pool, course: PatientRegistration, minutes: int, **signs: int
) -> int:
    taken = VitalSigns(taken_at=T0 + timedelta(minutes=minutes), **signs)
    reading_id = await insert_reading(pool, course.course_id, 1, taken, source="tablet:nurse-1")
    SIGNS[reading_id] = taken
    return reading_id


async def observations(
    pool: asyncpg.Pool, course_id: str, checkpoint: str
) -> list[tuple[object, ...]]:
    rows = await pool.fetch(
        """
        SELECT code_system, code, panel_code, value, unit, level, conditions, reading_id
        FROM observations WHERE course_id = $1 AND checkpoint = $2 ORDER BY id
        """,
        course_id,
        checkpoint,
    )
    return [tuple(r) for r in rows]


async def test_a_judgement_is_recorded_once_under_its_checkpoint(
    db_pool: asyncpg.Pool,
) -> None:
    course = await registered(db_pool)
    record = VitalsRecords(db_pool).record_judgement
    judged = await reading(db_pool, course, 3, systolic=150, diastolic=95, heart_rate=82, spo2=98)

    await run(record, judgement(course, "pre_dose-1", judged))
    await run(record, judgement(course, "pre_dose-1", judged))  # a retry

    loinc = "http://loinc.org"
    assert await observations(db_pool, course.course_id, "pre_dose-1") == [
        (loinc, "8480-6", "85354-9", 150, "mm[Hg]", "hold", ["bp_elevated"], judged),
        (loinc, "8462-4", "85354-9", 95, "mm[Hg]", "hold", ["bp_elevated"], judged),
        (loinc, "8867-4", None, 82, "/min", "normal", [], judged),
        (loinc, "59408-5", None, 98, "%", "normal", [], judged),
    ]


async def test_a_critical_judgement_is_recorded_sign_by_sign(db_pool: asyncpg.Pool) -> None:
    course = await registered(db_pool)
    first = await reading(db_pool, course, 40, systolic=185, diastolic=100)
    severe = await reading(db_pool, course, 45, systolic=186, diastolic=100, spo2=88, moaas=1)

    await run(
        VitalsRecords(db_pool).record_judgement,
        judgement(course, "monitoring-2", severe, SIGNS[first]),
    )

    recorded = await observations(db_pool, course.course_id, "monitoring-2")
    assert [(code, level, conds) for _, code, _, _, _, level, conds, _ in recorded] == [
        ("8480-6", "critical", ["bp_critical"]),
        ("8462-4", "critical", ["bp_critical"]),
        ("59408-5", "critical", ["spo2_low"]),
        ("moaas", "critical", ["sedation"]),
    ]
    assert recorded[3][0] == "urn:trdflow:observation"


async def test_a_dose_and_session_events_are_recorded_once(db_pool: asyncpg.Pool) -> None:
    course = await registered(db_pool)
    records = SessionRecords(db_pool)
    dose = DoseRecord(
        course_id=course.course_id,
        session=1,
        administration=Administration(
            dose_mg=56, lot="LOT-123", device_times=(T0, T0 + timedelta(minutes=5)), by="nurse-1"
        ),
    )
    events = [
        SessionEventRecord(
            course_id=course.course_id, session=1, event=SessionEvent.SCHEDULED, at=T0
        ),
        SessionEventRecord(
            course_id=course.course_id,
            session=1,
            event=SessionEvent.CHECKED_IN,
            at=T0 - timedelta(minutes=20),
            actor="nurse-1",
        ),
        SessionEventRecord(
            course_id=course.course_id,
            session=1,
            event=SessionEvent.TRANSPORT_CONFIRMED,
            at=T0 - timedelta(minutes=10),
            actor="nurse-1",
            detail="staff",
        ),
        SessionEventRecord(course_id=course.course_id, session=1, event=SessionEvent.DOSED, at=T0),
        SessionEventRecord(
            course_id=course.course_id,
            session=1,
            event=SessionEvent.DISCHARGED,
            at=T0 + timedelta(hours=2, minutes=5),
            discharge=Discharge(
                by="dr-1",
                concomitant_medications=frozenset({ConcomitantMedication.BENZODIAZEPINES}),
            ),
        ),
    ]

    for _ in range(2):
        await run(records.record_dose, dose)
        for event in events:
            await run(records.record_session_event, event)

    doses = await db_pool.fetch("SELECT * FROM doses WHERE course_id = $1", course.course_id)
    assert [(d["dose_mg"], d["devices"], d["lot"]) for d in doses] == [(56, 2, "LOT-123")]
    [row] = await db_pool.fetch("SELECT * FROM sessions WHERE course_id = $1", course.course_id)
    assert row["stage"] == "discharged" and row["last_event"] == "discharged"
    assert row["scheduled_at"] == T0 and row["checked_in_by"] == "nurse-1"
    assert row["transport_confirmed_via"] == "staff" and row["dosed_at"] == T0
    assert row["discharged_by"] == "dr-1"
    assert row["concomitant_medications"] == ["benzodiazepines"]
    assert row["respiratory_depression"] is False


async def test_an_alert_is_raised_once_per_dedup_key(db_pool: asyncpg.Pool, client: Client) -> None:
    course = await registered(db_pool)
    alert = Alert(
        dedup_key=f"{course.course_id}/1/spo2_low/1",
        course_id=course.course_id,
        session=1,
        severity=Severity.CRITICAL,
        condition=Condition.SPO2_LOW,
        summary="SpO2 below 90% during monitoring",
    )

    assert await run(Alerts(db_pool, client).raise_alert, alert) is AlertOutcome.OPENED
    assert await run(Alerts(db_pool, client).raise_alert, alert) is AlertOutcome.JOINED

    alerts = await db_pool.fetch(
        "SELECT status, severity FROM alerts WHERE course_id = $1", course.course_id
    )
    notices = await db_pool.fetch(
        "SELECT kind, body FROM notification_outbox WHERE effect_key = $1",
        f"alert/{alert.dedup_key}",
    )
    assert [tuple(r) for r in alerts] == [("open", "critical")]
    assert [tuple(r) for r in notices] == [("alert_critical", alert.summary)]


async def test_record_audit_appends_an_entry(db_pool: asyncpg.Pool) -> None:
    course = await registered(db_pool)

    entry = await record_audit(
        db_pool, "nurse-1", "session.checked_in", course.course_id, {"session": 1}
    )

    row = await db_pool.fetchrow(
        "SELECT actor, action, details FROM audit_log WHERE id = $1", entry
    )
    assert row is not None
    assert tuple(row) == ("nurse-1", "session.checked_in", {"session": 1})


async def test_a_reading_needs_a_registered_course(db_pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await reading(db_pool, registration(), 0, systolic=120, diastolic=80)
