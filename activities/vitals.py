"""A judged reading, recorded once as coded observations."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from domain.observations import observations_of
from domain.records import ReadingJudgement
from domain.session_core import Checkpoint
from store import observations, readings
from worker.metrics import READING_TO_JUDGEMENT, READINGS_JUDGED

log = structlog.get_logger(__name__)


class VitalsRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="record_judgement")
    async def record_judgement(self, judgement: ReadingJudgement) -> None:
        """The session judged the reading; its signs and findings go to the clinical record
        under the reading's checkpoint, once however often this is retried."""
        judged = log.bind(checkpoint=judgement.checkpoint, reading_id=judgement.reading_id)
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await readings.reading(conn, judgement.reading_id)
            if stored is None:
                raise ValueError(f"reading {judgement.reading_id} is not stored")
            recorded = await observations.record_checkpoint(
                conn,
                course_id=judgement.course_id,
                session=judgement.session,
                checkpoint=judgement.checkpoint,
                reading_id=stored.id,
                taken_at=stored.signs.taken_at,
                observations=observations_of(stored.signs, judgement.classification),
            )
        if recorded:
            level = judgement.classification.level
            READINGS_JUDGED.labels(level.name.lower(), Checkpoint.kind(judgement.checkpoint)).inc()
            # Asked for by the session once it had judged the reading (and raised its alert).
            waited = activity.info().scheduled_time - stored.received_at
            READING_TO_JUDGEMENT.observe(waited.total_seconds())
        judged.info(
            "reading_judgement_recorded" if recorded else "reading_judgement_recorded_already",
            level=judgement.classification.level.name.lower(),
            conditions=[f.condition for f in judgement.classification.findings],
        )
