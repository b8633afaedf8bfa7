"""The session's clinical record: the dose given and what happened in the room."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from domain.records import DoseRecord, SessionEventRecord
from store import doses, sessions

log = structlog.get_logger(__name__)


class SessionRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="record_dose")
    async def record_dose(self, record: DoseRecord) -> None:
        await doses.record_dose(self._pool, record.course_id, record.session, record.administration)
        log.info("dose_recorded", dose_mg=record.administration.dose_mg)

    @activity.defn(name="record_session_event")
    async def record_session_event(self, record: SessionEventRecord) -> None:
        await sessions.record_event(self._pool, record)
        log.info("session_event_recorded", session_event=record.event)
