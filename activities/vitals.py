"""Vitals checkpoints: the newest reading in the window, classified and recorded once."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from activities.logs import activity_log
from domain.observations import observations_of
from domain.records import VitalsCheck, VitalsCheckResult
from domain.vitals import classify
from store import observations, readings


class VitalsChecks:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="check_vitals")
    async def check_vitals(self, check: VitalsCheck) -> VitalsCheckResult:
        """A checkpoint records one reading; a retry finds it and answers the same."""
        log = activity_log(check.course_id, check.session).bind(checkpoint=check.checkpoint)
        key = observations.checkpoint_key(check.course_id, check.session, check.checkpoint)
        async with self._pool.acquire() as conn, conn.transaction():
            await observations.lock_checkpoint(conn, key)
            recorded = await observations.checkpoint_reading(
                conn, check.course_id, check.session, check.checkpoint
            )
            chosen = recorded if recorded is not None else check.reading_id
            if chosen is not None:
                stored = await readings.reading(conn, chosen)
            else:
                stored = await readings.newest_reading(
                    conn, check.course_id, check.session, check.not_before
                )
            if stored is None:
                log.info("no reading in the window yet")
                return VitalsCheckResult(found=False)
            earlier = await readings.earlier_readings(conn, check.course_id, check.session, stored)
            classification = classify(stored.signs, earlier, check.limits)
            if recorded is None:
                await observations.record_checkpoint(
                    conn,
                    course_id=check.course_id,
                    session=check.session,
                    checkpoint=check.checkpoint,
                    reading_id=stored.id,
                    taken_at=stored.signs.taken_at,
                    observations=observations_of(stored.signs, classification),
                )
        log.info(
            "vitals checkpoint recorded"
            if recorded is None
            else "vitals checkpoint already recorded",
            reading_id=stored.id,
            level=classification.level.name.lower(),
            conditions=[f.condition for f in classification.findings],
        )
        return VitalsCheckResult(
            found=True, reading_id=stored.id, reading=stored.signs, classification=classification
        )
