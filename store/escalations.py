"""Escalations as the on-call console lists them, and the pager pages sent for them.

The `escalations` row is written by the Escalation workflow's steps (`upsert_from_record`);
every write notifies the `escalations` channel with the escalation's id (the console listens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from pydantic import BaseModel, ConfigDict

from domain.escalation import EscalationRecord, EscalationStatus, Severity
from store.db import Executor

NOTIFY_CHANNEL = "escalations"
"""LISTEN to it: each notification's payload is the id of an escalation just written."""

PAGER_CHANNEL = "pager"
PAGE_KIND = "page"
"""How a pager page is filed in the delivery ledger (notification_outbox)."""

# The steps (EscalationRecord.step) that fill their own columns.
PAGED = "paged"
ACKNOWLEDGED = "acknowledged"
REASSIGNED = "reassigned"
"""Opens an acknowledged escalation again: its acknowledgement is cleared."""
RESOLVED = "resolved"
RUNG_STEPS = frozenset({PAGED, REASSIGNED})
"""The steps that begin a rung: a page (reaching someone or not), or a reassignment."""


class EscalationRow(BaseModel):
    """One escalation as the console shows it. `summary` holds no PHI (Trigger's contract)."""

    model_config = ConfigDict(frozen=True)

    escalation_id: str
    dedup_key: str
    course_id: str
    clinic_id: str
    session: int | None
    phase: str | None
    severity: Severity
    condition: str
    summary: str
    reading_id: int | None
    status: EscalationStatus
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    assigned_to: str | None
    pages: int
    last_paged_at: datetime | None
    rung_since: datetime
    """When the current rung began (`RUNG_STEPS`); until the first page, when it was raised."""
    updated_at: datetime


_COLUMNS = ", ".join(EscalationRow.model_fields)


async def upsert_from_record(db: Executor, record: EscalationRecord) -> None:
    """Bring the row up to date with one step; recording the same step again changes nothing.

    The latest step (by `record.at`) sets the status and the assignee, so a step recorded
    late never undoes a newer one. Each page that reached someone (`assigned_to`) counts once.
    """
    trigger = record.trigger
    step = record.step
    paged = step == PAGED and record.assigned_to is not None
    rung = step in RUNG_STEPS
    await db.execute(
        """
        INSERT INTO escalations (
            escalation_id, dedup_key, course_id, clinic_id, session, phase, severity,
            condition, summary, reading_id, status, status_at, raised_at,
            acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolution_note,
            assigned_to, pages, last_paged_at, rung_since)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                $14, $15, $16, $17, $18, $19, $20, $21, $23)
        ON CONFLICT (escalation_id) DO UPDATE SET
            status = CASE WHEN EXCLUDED.status_at >= escalations.status_at
                          THEN EXCLUDED.status ELSE escalations.status END,
            assigned_to = CASE WHEN EXCLUDED.status_at >= escalations.status_at
                               THEN COALESCE(EXCLUDED.assigned_to, escalations.assigned_to)
                               ELSE escalations.assigned_to END,
            reading_id = CASE WHEN EXCLUDED.status_at >= escalations.status_at
                              THEN COALESCE(EXCLUDED.reading_id, escalations.reading_id)
                              ELSE escalations.reading_id END,
            status_at = GREATEST(escalations.status_at, EXCLUDED.status_at),
            acknowledged_by = CASE
                WHEN $22 AND EXCLUDED.status_at >= escalations.status_at THEN NULL
                WHEN EXCLUDED.acknowledged_at > COALESCE(escalations.acknowledged_at, '-infinity')
                THEN EXCLUDED.acknowledged_by
                ELSE escalations.acknowledged_by END,
            acknowledged_at = CASE
                WHEN $22 AND EXCLUDED.status_at >= escalations.status_at THEN NULL
                ELSE GREATEST(escalations.acknowledged_at, EXCLUDED.acknowledged_at) END,
            resolved_by = CASE WHEN EXCLUDED.resolved_at
                                    > COALESCE(escalations.resolved_at, '-infinity')
                               THEN EXCLUDED.resolved_by ELSE escalations.resolved_by END,
            resolution_note = CASE WHEN EXCLUDED.resolved_at
                                        > COALESCE(escalations.resolved_at, '-infinity')
                                   THEN EXCLUDED.resolution_note
                                   ELSE escalations.resolution_note END,
            resolved_at = GREATEST(escalations.resolved_at, EXCLUDED.resolved_at),
            pages = escalations.pages + (EXCLUDED.last_paged_at IS NOT NULL AND
                EXCLUDED.last_paged_at > COALESCE(escalations.last_paged_at, '-infinity'))::int,
            last_paged_at = GREATEST(escalations.last_paged_at, EXCLUDED.last_paged_at),
            rung_since = CASE WHEN $24 THEN GREATEST(escalations.rung_since, EXCLUDED.rung_since)
                              ELSE escalations.rung_since END,
            updated_at = now()
        """,
        record.escalation_id,
        trigger.dedup_key,
        trigger.course_id,
        trigger.clinic_id,
        trigger.session,
        trigger.phase,
        trigger.severity,
        trigger.condition,
        trigger.summary,
        trigger.reading_id,
        record.status,
        record.at,
        trigger.raised_at,
        *((record.at, record.actor) if step == ACKNOWLEDGED else (None, None)),
        *((record.at, record.actor, record.detail) if step == RESOLVED else (None, None, None)),
        record.assigned_to,
        1 if paged else 0,
        record.at if paged else None,
        step == REASSIGNED,
        record.at if rung else trigger.raised_at,
        rung,
    )


async def list_open(db: Executor, clinics: Sequence[str] | None = None) -> list[EscalationRow]:
    """Escalations not yet resolved (open or acknowledged) of `clinics` (None: every clinic):
    the most severe first (critical, urgent, routine), then the newest."""
    rows = await db.fetch(
        f"""
        SELECT {_COLUMNS} FROM escalations
        WHERE status <> 'resolved' AND ($1::text[] IS NULL OR clinic_id = ANY($1))
        ORDER BY array_position(ARRAY['critical', 'urgent', 'routine'], severity),
                 raised_at DESC, escalation_id
        """,
        None if clinics is None else list(clinics),
    )
    return [_row(row) for row in rows]


async def get(db: Executor, escalation_id: str) -> EscalationRow | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM escalations WHERE escalation_id = $1", escalation_id
    )
    return None if row is None else _row(row)


def _row(row: asyncpg.Record) -> EscalationRow:
    return EscalationRow.model_validate(dict(row))


# --- Pager pages, from the delivery ledger ----------------------------------------------------


_PAGE = "/page-"


def page_key(escalation_id: str, attempt: int) -> str:
    """The page's effect key, which is also its dedup key at the pager service."""
    return f"{escalation_id}{_PAGE}{attempt}"


@dataclass(frozen=True)
class PagerPage:
    escalation_id: str
    course_id: str
    dedup_key: str
    routing_key: str


async def pager_pages(db: Executor, escalation_id: str) -> list[PagerPage]:
    """The escalation's pages that the pager service accepted, oldest first."""
    rows = await db.fetch(
        """
        SELECT course_id, effect_key, recipient FROM notification_outbox
        WHERE channel = $1 AND kind = $2 AND status = 'sent' AND starts_with(effect_key, $3)
        ORDER BY id
        """,
        PAGER_CHANNEL,
        PAGE_KIND,
        escalation_id + _PAGE,
    )
    return [_page(row) for row in rows]


async def pager_page(db: Executor, dedup_key: str) -> PagerPage | None:
    """The page sent to the pager service under this dedup key, if it was one of ours."""
    row = await db.fetchrow(
        """
        SELECT course_id, effect_key, recipient FROM notification_outbox
        WHERE channel = $1 AND kind = $2 AND effect_key = $3
        """,
        PAGER_CHANNEL,
        PAGE_KIND,
        dedup_key,
    )
    return None if row is None else _page(row)


def _page(row: asyncpg.Record) -> PagerPage:
    key: str = row["effect_key"]
    return PagerPage(
        escalation_id=key.rpartition(_PAGE)[0],
        course_id=row["course_id"],
        dedup_key=key,
        routing_key=row["recipient"],
    )


async def record_page(
    db: Executor, escalation_id: str, attempt: int, paged_at: datetime, answer_due: timedelta
) -> None:
    """A page reached someone, who has until `paged_at + answer_due` to acknowledge it (once
    per page, however often its activity runs)."""
    await db.execute(
        """
        INSERT INTO escalation_pages (escalation_id, attempt, paged_at, answer_due_at)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING
        """,
        escalation_id,
        attempt,
        paged_at,
        paged_at + answer_due,
    )
