"""Doses given: one row per session."""

from __future__ import annotations

from domain.session import Administration
from store.db import Executor


async def record_dose(db: Executor, course_id: str, session: int, dose: Administration) -> None:
    """The first record stands; a retry is a no-op."""
    await db.execute(
        """
        INSERT INTO doses
            (course_id, session, dose_mg, devices, lot, first_device_at, device_times,
             administered_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (course_id, session) DO NOTHING
        """,
        course_id,
        session,
        dose.dose_mg,
        dose.devices,
        dose.lot,
        dose.first_device_at,
        list(dose.device_times),
        dose.by,
    )


async def dose(db: Executor, course_id: str, session: int) -> Administration | None:
    row = await db.fetchrow(
        """
        SELECT dose_mg, lot, device_times, administered_by AS by
        FROM doses WHERE course_id = $1 AND session = $2
        """,
        course_id,
        session,
    )
    return None if row is None else Administration.model_validate(dict(row))
