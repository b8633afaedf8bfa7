"""Escalation rows for the console's tests, written with the store's own upsert (as the
Escalation workflow's steps write them), and a course with a reading to point them at.

Free of pytest: the HTTP and the browser tests of the console share it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from cli.simulation import PERSONAS, demo_course
from domain.escalation import EscalationRecord, EscalationStatus, Severity, Trigger
from domain.protocol import Indication
from domain.records import PatientRegistration
from domain.vitals import VitalSigns
from store.escalations import upsert_from_record
from store.patients import register
from store.readings import insert_reading

CLINIC = "console-clinic"


async def seed(
    pool: asyncpg.Pool,
    severity: Severity,
    minutes_ago: int,
    *,
    step: str = "raised",
    status: EscalationStatus = EscalationStatus.OPEN,
    reading_id: int | None = None,
    course_id: str = "c-console",
    clinic_id: str = CLINIC,
    paged_minutes_ago: int | None = None,
) -> str:
    """An escalation row as the workflow's `raised` step writes it (then its page to a nurse,
    given when); returns its id."""
    key = f"console/{uuid.uuid4().hex[:10]}"
    raised_at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    trigger = Trigger(
        dedup_key=key,
        course_id=course_id,
        clinic_id=clinic_id,
        session=3,
        phase="induction",
        severity=severity,
        condition="bp_critical",
        summary="BP at or above the critical limit",
        reading_id=reading_id,
        raised_at=raised_at,
    )
    escalation_id = f"escalation-{key.replace('/', '-')}"
    record = EscalationRecord(
        escalation_id=escalation_id,
        trigger=trigger,
        status=status,
        step=step,
        actor="system",
        at=raised_at,
    )
    await upsert_from_record(pool, record)
    if paged_minutes_ago is not None:
        paged_at = datetime.now(UTC) - timedelta(minutes=paged_minutes_ago)
        page = {"step": "paged", "at": paged_at, "assigned_to": "nurse-on-call"}
        await upsert_from_record(pool, record.model_copy(update=page))
    return escalation_id


async def course_with_reading(pool: asyncpg.Pool, signs: VitalSigns) -> tuple[str, int]:
    """A course in the clinical record (readings hang off it) and one reading of its session."""
    course = demo_course(f"c-console-{uuid.uuid4().hex[:8]}", PERSONAS["responder"], 1.0)
    registration = PatientRegistration(
        course_id=course.course_id,
        patient_ref=course.patient_ref,
        clinic_id=CLINIC,
        clinic_timezone="UTC",
        indication=Indication.TRD,
        protocol_version="test",
        patient=course.patient,
    )
    await register(pool, registration)
    return course.course_id, await insert_reading(pool, course.course_id, 3, signs, "gateway")


async def next_snapshot(lines: AsyncIterator[str]) -> dict[str, Any]:
    """The next `escalations` event of a Server-Sent Events stream."""
    event = None
    async for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "escalations":
            snapshot: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return snapshot
    raise AssertionError("the stream ended")
