"""Vitals readings as the clinic systems sent them, durable before they are acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain.vitals import VitalSigns
from store.db import Executor


@dataclass(frozen=True)
class StoredReading:
    id: int
    signs: VitalSigns


async def insert_reading(
    db: Executor, course_id: str, session: int, signs: VitalSigns, source: str
) -> int:
    """Store a reading; returns its id. `source` names the sender (tablet, gateway, actor)."""
    reading_id: int = await db.fetchval(
        """
        INSERT INTO readings (course_id, session, taken_at, source, signs)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id
        """,
        course_id,
        session,
        signs.taken_at,
        source,
        signs.model_dump(mode="json"),
    )
    return reading_id


async def reading(db: Executor, reading_id: int) -> StoredReading | None:
    signs = await db.fetchval("SELECT signs FROM readings WHERE id = $1", reading_id)
    return None if signs is None else StoredReading(reading_id, VitalSigns.model_validate(signs))


async def newest_reading(
    db: Executor, course_id: str, session: int, not_before: datetime
) -> StoredReading | None:
    row = await db.fetchrow(
        """
        SELECT id, signs FROM readings
        WHERE course_id = $1 AND session = $2 AND taken_at >= $3
        ORDER BY taken_at DESC, id DESC
        LIMIT 1
        """,
        course_id,
        session,
        not_before,
    )
    return None if row is None else _stored(row)


async def earlier_readings(
    db: Executor, course_id: str, session: int, before: StoredReading
) -> list[VitalSigns]:
    """The session's readings taken before `before`, oldest first (for the repeat rules)."""
    rows = await db.fetch(
        """
        SELECT id, signs FROM readings
        WHERE course_id = $1 AND session = $2 AND (taken_at, id) < ($3, $4)
        ORDER BY taken_at, id
        """,
        course_id,
        session,
        before.signs.taken_at,
        before.id,
    )
    return [_stored(row).signs for row in rows]


def _stored(row: asyncpg.Record) -> StoredReading:
    return StoredReading(id=row["id"], signs=VitalSigns.model_validate(row["signs"]))
