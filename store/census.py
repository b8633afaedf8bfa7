"""The clinic's state in counts, for the metrics: open escalations and their pages, the outbox
backlog, REMS forms not yet in. Counts by severity, clinic and channel only: never PHI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store.db import Executor


@dataclass(frozen=True)
class OpenEscalations:
    severity: str
    clinic_id: str
    status: str
    count: int


@dataclass(frozen=True)
class WaitingPages:
    """The open escalations of a severity and clinic, by their latest page."""

    severity: str
    clinic_id: str
    overdue: int
    """Those whose latest page has waited past its rung's delay."""
    longest_wait_s: float


@dataclass(frozen=True)
class Backlog:
    channel: str
    pending: int
    oldest_age_s: float


@dataclass(frozen=True)
class RemsFormsOpen:
    clinic_id: str
    due: int
    past_reminder: int
    overdue: int


async def open_escalations(db: Executor) -> list[OpenEscalations]:
    rows = await db.fetch(
        """
        SELECT severity, clinic_id, status, count(*) AS count FROM escalations
        WHERE status <> 'resolved' GROUP BY severity, clinic_id, status
        """
    )
    return [OpenEscalations(**row) for row in rows]


async def waiting_pages(db: Executor) -> list[WaitingPages]:
    rows = await db.fetch(
        """
        SELECT e.severity, e.clinic_id,
               count(*) FILTER (WHERE p.answer_due_at < now()) AS overdue,
               extract(epoch FROM now() - min(p.paged_at))::float8 AS longest_wait_s
        FROM escalations e
        CROSS JOIN LATERAL (
            SELECT paged_at, answer_due_at FROM escalation_pages
            WHERE escalation_id = e.escalation_id ORDER BY attempt DESC LIMIT 1
        ) p
        WHERE e.status = 'open'
        GROUP BY e.severity, e.clinic_id
        """
    )
    return [WaitingPages(**row) for row in rows]


async def outbox_backlog(db: Executor) -> list[Backlog]:
    rows = await db.fetch(
        """
        SELECT channel, count(*) AS pending,
               extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_s
        FROM notification_outbox WHERE status = 'pending' GROUP BY channel
        """
    )
    return [Backlog(**row) for row in rows]


async def rems_forms_open(db: Executor, reminder_after: timedelta) -> list[RemsFormsOpen]:
    """Forms the portal has not accepted, per clinic: before their due day, `reminder_after`
    their session or more, past their due day."""
    rows = await db.fetch(
        """
        SELECT c.clinic_id,
               count(*) FILTER (WHERE now() < f.due_at) AS due,
               count(*) FILTER (WHERE now() >= s.scheduled_at + $1) AS past_reminder,
               count(*) FILTER (WHERE now() >= f.due_at) AS overdue
        FROM rems_forms f
        JOIN courses c ON c.course_id = f.course_id
        LEFT JOIN sessions s ON s.course_id = f.course_id AND s.number = f.session
        WHERE f.status <> 'submitted'
        GROUP BY c.clinic_id
        """,
        reminder_after,
    )
    return [RemsFormsOpen(**row) for row in rows]
