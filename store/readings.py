"""Vitals readings as the clinic systems sent them, durable before they are acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.vitals import VitalSigns
from store.db import Executor


@dataclass(frozen=True)
class StoredReading:
    id: int
    signs: VitalSigns
    received_at: datetime
    """When the API stored it."""


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
    row = await db.fetchrow("SELECT signs, received_at FROM readings WHERE id = $1", reading_id)
    if row is None:
        return None
    return StoredReading(reading_id, VitalSigns.model_validate(row["signs"]), row["received_at"])
