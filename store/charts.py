"""A course's clinical record read back whole, in one snapshot, for export (`domain.chart`)."""

from __future__ import annotations

import asyncpg

from domain.chart import (
    CourseChart,
    DoseEntry,
    EscalationEntry,
    Handled,
    Judgement,
    ReadingEntry,
    ReminderEntry,
    SessionEntry,
)
from domain.conditions import Level
from domain.escalation import EscalationStatus, Trigger
from domain.notices import Channel
from domain.protocol import Indication
from domain.records import SessionEvent
from domain.session import Administration, Stage
from domain.vitals import VitalSigns

REMINDER_KINDS = r"^reminder_([0-9]+)h$"
"""The outbox's kind of a session reminder (`activities.reminders`): `reminder_<hours>h`."""


async def course_chart(pool: asyncpg.Pool, course_id: str) -> CourseChart | None:
    """The course's record; None for a course not registered (yet)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        course = await conn.fetchrow(
            """
            SELECT course_id, patient_ref, clinic_id, indication, protocol_version, registered_at
            FROM courses WHERE course_id = $1
            """,
            course_id,
        )
        if course is None:
            return None
        sessions = await conn.fetch(
            """
            SELECT number, scheduled_at, stage, last_event, discharged_at
            FROM sessions WHERE course_id = $1 ORDER BY number
            """,
            course_id,
        )
        readings = await conn.fetch(
            "SELECT id, received_at, signs FROM readings WHERE course_id = $1 ORDER BY id",
            course_id,
        )
        judged = await conn.fetch(
            "SELECT reading_id, code, level, conditions FROM observations WHERE course_id = $1",
            course_id,
        )
        doses = await conn.fetch(
            """
            SELECT session, dose_mg, lot, device_times, administered_by
            FROM doses WHERE course_id = $1 ORDER BY session
            """,
            course_id,
        )
        escalations = await conn.fetch(
            """
            SELECT escalation_id, dedup_key, course_id, clinic_id, session, phase, severity,
                   condition, summary, reading_id, raised_at, status, acknowledged_at,
                   acknowledged_by, resolved_at, resolved_by, resolution_note
            FROM escalations WHERE course_id = $1 ORDER BY raised_at, escalation_id
            """,
            course_id,
        )
        reminders = await conn.fetch(
            """
            SELECT substring(effect_key FROM '/session-([0-9]+)/')::int AS session,
                   substring(kind FROM $2)::int AS hours_before,
                   channel, status, created_at, sent_at, body
            FROM notification_outbox
            WHERE course_id = $1 AND kind ~ $2
            ORDER BY id
            """,
            course_id,
            REMINDER_KINDS,
        )
    judgements: dict[int, dict[str, Judgement]] = {}
    for row in judged:
        judgements.setdefault(row["reading_id"], {})[row["code"]] = Judgement(
            Level[row["level"].upper()], tuple(row["conditions"])
        )
    return CourseChart(
        course_id=course["course_id"],
        patient_ref=course["patient_ref"],
        clinic_id=course["clinic_id"],
        indication=Indication(course["indication"]),
        protocol_version=course["protocol_version"],
        registered_at=course["registered_at"],
        sessions=tuple(
            SessionEntry(
                number=row["number"],
                scheduled_at=row["scheduled_at"],
                stage=Stage(row["stage"]),
                last_event=SessionEvent(row["last_event"]),
                discharged_at=row["discharged_at"],
            )
            for row in sessions
        ),
        readings=tuple(
            ReadingEntry(
                id=row["id"],
                signs=VitalSigns.model_validate(row["signs"]),
                received_at=row["received_at"],
                judged=judgements.get(row["id"], {}),
            )
            for row in readings
        ),
        doses=tuple(
            DoseEntry(
                session=row["session"],
                given=Administration(
                    dose_mg=row["dose_mg"],
                    lot=row["lot"],
                    device_times=tuple(row["device_times"]),
                    by=row["administered_by"],
                ),
            )
            for row in doses
        ),
        escalations=tuple(_escalation(row) for row in escalations),
        reminders=tuple(
            ReminderEntry(**{**dict(row), "channel": Channel(row["channel"])}) for row in reminders
        ),
    )


def _escalation(row: asyncpg.Record) -> EscalationEntry:
    steps = (
        (EscalationStatus.ACKNOWLEDGED, row["acknowledged_at"], row["acknowledged_by"], None),
        (EscalationStatus.RESOLVED, row["resolved_at"], row["resolved_by"], row["resolution_note"]),
    )
    return EscalationEntry(
        escalation_id=row["escalation_id"],
        trigger=Trigger.model_validate({f: row[f] for f in _TRIGGER_COLUMNS}),
        status=EscalationStatus(row["status"]),
        handled=tuple(Handled(*step) for step in steps if step[1] is not None),
    )


_TRIGGER_COLUMNS = (
    "dedup_key",
    "course_id",
    "clinic_id",
    "session",
    "phase",
    "severity",
    "condition",
    "summary",
    "reading_id",
    "raised_at",
)
