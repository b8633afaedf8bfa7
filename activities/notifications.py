"""Notices to clinic staff: written once per effect key to the outbox, which providers drain."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from domain.notices import ClinicNotice
from store import outbox

log = structlog.get_logger()


class ClinicNotifier:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="notify_clinic")
    async def notify_clinic(self, notice: ClinicNotice) -> bool:
        """Queue the notice; True if new, False if this effect key was already queued."""
        created = await outbox.enqueue(
            self._pool,
            effect_key=notice.effect_key,
            course_id=notice.course_id,
            channel="clinic",
            recipient=notice.recipient,
            kind=notice.kind,
            body=notice.message,
        )
        log.info(
            "clinic_notice_queued" if created else "clinic_notice_queued_already",
            kind=notice.kind,
            effect_key=notice.effect_key,
        )
        return created
