"""The session's clinical record: the dose given and what happened in the room."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from activities.logs import activity_log
from domain.records import DoseRecord, SessionEventRecord
from store import doses, sessions


class SessionRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="record_dose")
    async def record_dose(self, record: DoseRecord) -> None:
        await doses.record_dose(self._pool, record.course_id, record.session, record.administration)
        activity_log(record.course_id, record.session).info(
            "dose recorded", dose_mg=record.administration.dose_mg
        )

    @activity.defn(name="record_session_event")
    async def record_session_event(self, record: SessionEventRecord) -> None:
        await sessions.record_event(self._pool, record)
        activity_log(record.course_id, record.session).info(
            "session event recorded", session_event=record.event
        )
