"""Escalation triggers, one per dedup key; the escalation issue pages people from here."""

from __future__ import annotations

import asyncpg

from domain.records import Alert
from store import outbox


async def open_alert(pool: asyncpg.Pool, alert: Alert) -> bool:
    """Record the alert and its clinic notice; False if this dedup key was raised before."""
    async with pool.acquire() as conn, conn.transaction():
        alert_id = await conn.fetchval(
            """
            INSERT INTO alerts
                (dedup_key, course_id, session, severity, condition, summary, reading_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (dedup_key) DO NOTHING
            RETURNING id
            """,
            alert.dedup_key,
            alert.course_id,
            alert.session,
            alert.severity,
            alert.condition,
            alert.summary,
            alert.reading_id,
        )
        if alert_id is None:
            return False
        await outbox.enqueue(
            conn,
            effect_key=f"alert/{alert.dedup_key}",
            course_id=alert.course_id,
            channel="clinic",
            recipient="on-call",
            kind=f"alert_{alert.severity}",
            body=alert.summary,
        )
        return True
