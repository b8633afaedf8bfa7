"""The REMS form from a recorded session, stored once and submitted through the portal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from activities.adapters.factory import adapters_from, local_adapters
from activities.adapters.ports import RemsPortal
from activities.dosing import SessionRecords
from activities.patients import PatientRegistry
from activities.rems import RemsForms
from activities.vitals import VitalsRecords
from cli.standins import PORTAL_PATH, PORTAL_TOKEN, HttpProviders
from domain.protocol import VitalsLimits
from domain.records import (
    DoseRecord,
    PatientRegistration,
    ReadingJudgement,
    RemsFormRequest,
    RemsSubmissionStatus,
    SessionEvent,
    SessionEventRecord,
)
from domain.session import Administration, ConcomitantMedication, Discharge
from domain.session_core import Checkpoint
from domain.vitals import VitalSigns, classify
from store.readings import insert_reading
from tests.activity_runs import registration, run
from worker.settings import Settings

FIRST_DEVICE = datetime(2026, 3, 3, 14, 10, tzinfo=UTC)


def portal(providers: HttpProviders, pool: asyncpg.Pool) -> RemsPortal:
    return adapters_from(
        Settings(
            rems_provider="portal",
            rems_portal_url=f"{providers.url}{PORTAL_PATH}",
            rems_portal_token=SecretStr(PORTAL_TOKEN),
        ),
        pool,
    ).rems_portal


async def recorded_session(pool: asyncpg.Pool) -> PatientRegistration:
    """A dosed and discharged session 1 with its three vitals checkpoints."""
    course = registration()
    await run(PatientRegistry(pool).register_patient, course)
    records, vitals = SessionRecords(pool), VitalsRecords(pool)
    for checkpoint, minutes, systolic in (
        (Checkpoint.PRE_DOSE, -10, 132),
        (Checkpoint.POST_DOSE_40M, 40, 138),
        (Checkpoint.MONITORING, 120, 126),
    ):
        taken = FIRST_DEVICE + timedelta(minutes=minutes)
        signs = VitalSigns(taken_at=taken, systolic=systolic, diastolic=84, spo2=97, moaas=5)
        reading_id = await insert_reading(pool, course.course_id, 1, signs, source="tablet:nurse-1")
        judgement = ReadingJudgement(
            course_id=course.course_id,
            session=1,
            reading_id=reading_id,
            checkpoint=Checkpoint.of(checkpoint, reading_id),
            classification=classify(signs, [], VitalsLimits()),
        )
        await run(vitals.record_judgement, judgement)
    administration = Administration(
        dose_mg=56,
        lot="LOT-42",
        device_times=(FIRST_DEVICE, FIRST_DEVICE + timedelta(minutes=5)),
        by="nurse-1",
    )
    await run(
        records.record_dose,
        DoseRecord(course_id=course.course_id, session=1, administration=administration),
    )
    discharge = Discharge(
        by="dr-1", concomitant_medications=frozenset({ConcomitantMedication.PSYCHOSTIMULANTS})
    )
    await run(
        records.record_session_event,
        SessionEventRecord(
            course_id=course.course_id,
            session=1,
            event=SessionEvent.DISCHARGED,
            at=FIRST_DEVICE + timedelta(minutes=125),
            discharge=discharge,
        ),
    )
    return course


def form_request(course: PatientRegistration) -> RemsFormRequest:
    return RemsFormRequest(
        course_id=course.course_id, session=1, due_at=FIRST_DEVICE + timedelta(days=7)
    )


async def form_rows(pool: asyncpg.Pool, course_id: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM rems_forms WHERE course_id = $1", course_id)


async def test_the_form_is_assembled_from_the_record_and_submitted_once(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    course = await recorded_session(db_pool)
    submit = RemsForms(db_pool, portal(providers, db_pool)).submit_rems_form

    first = await run(submit, form_request(course))
    again = await run(submit, form_request(course))

    assert first.status is again.status is RemsSubmissionStatus.SUBMITTED
    assert first.submission_id is not None and first.submission_id == again.submission_id
    [posted] = providers.forms
    assert providers.form_headers[0]["idempotency-key"] == first.form_id
    assert (
        posted["form_id"] == first.form_id == f"course-{course.course_id}/session-1/rems-monitoring"
    )
    assert posted["patient_ref"] == course.patient_ref
    assert (posted["dose_mg"], posted["devices"], posted["lot"]) == (56, 2, "LOT-42")
    assert posted["treatment_date"] == "2026-03-03"
    assert posted["total_monitoring_minutes"] == 125 and posted["monitored_at_least_2h"]
    assert posted["bp_before_dosing"]["systolic"] == 132
    assert posted["bp_at_40_min"]["systolic"] == 138
    assert posted["bp_before_completion"]["systolic"] == 126
    assert posted["vitals_acceptable_before_dosing"]
    assert posted["vitals_acceptable_before_completion"]
    assert posted["ready_to_leave_at"] == "2026-03-03T16:10:00Z"
    assert (posted["sedation"], posted["dissociation"], posted["respiratory_depression"]) == (
        False,
        False,
        False,
    )
    assert posted["concomitant_medications"] == ["psychostimulants"]
    [row] = await form_rows(db_pool, course.course_id)
    assert (row["status"], row["submission_id"], row["attempts"]) == (
        "submitted",
        first.submission_id,
        1,
    )
    assert row["payload"] == posted


async def test_a_refused_form_is_recorded_and_not_retried(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    course = await recorded_session(db_pool)
    submit = RemsForms(db_pool, portal(providers, db_pool)).submit_rems_form
    providers.answer_next(422)

    first = await run(submit, form_request(course))
    again = await run(submit, form_request(course))

    assert first == again
    assert first.status is RemsSubmissionStatus.FAILED
    assert first.error == "rems_portal answered HTTP 422"
    assert providers.requests == 1
    [row] = await form_rows(db_pool, course.course_id)
    assert (row["status"], row["error"]) == ("failed", first.error)


async def test_an_unavailable_portal_is_retried_until_it_takes_the_form(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    course = await recorded_session(db_pool)
    submit = RemsForms(db_pool, portal(providers, db_pool)).submit_rems_form
    providers.answer_next(503)

    with pytest.raises(ApplicationError) as raised:
        await run(submit, form_request(course))
    result = await run(submit, form_request(course))

    assert not raised.value.non_retryable
    assert result.status is RemsSubmissionStatus.SUBMITTED
    assert len(providers.forms) == 1
    [row] = await form_rows(db_pool, course.course_id)
    assert (row["status"], row["attempts"], row["error"]) == ("submitted", 2, None)


async def test_the_local_default_keeps_the_form_in_the_outbox(db_pool: asyncpg.Pool) -> None:
    course = await recorded_session(db_pool)
    submit = RemsForms(db_pool, local_adapters(db_pool).rems_portal).submit_rems_form

    result = await run(submit, form_request(course))
    await run(submit, form_request(course))

    assert result.submission_id == f"local:{result.form_id}"
    rows = await db_pool.fetch(
        "SELECT channel, body FROM notification_outbox WHERE effect_key = $1", result.form_id
    )
    assert [r["channel"] for r in rows] == ["rems"]
    assert json.loads(rows[0]["body"])["lot"] == "LOT-42"


async def test_no_form_without_a_dose_and_a_discharge(db_pool: asyncpg.Pool) -> None:
    course = registration()
    await run(PatientRegistry(db_pool).register_patient, course)
    submit = RemsForms(db_pool, local_adapters(db_pool).rems_portal).submit_rems_form

    with pytest.raises(ApplicationError) as raised:
        await run(submit, form_request(course))

    assert raised.value.non_retryable
    assert raised.value.type == "RemsRecordIncomplete"
