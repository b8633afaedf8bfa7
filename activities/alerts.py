"""The escalation hook: an alert is recorded once per dedup key (paging comes later)."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from activities.logs import activity_log
from domain.records import Alert
from store import alerts


class Alerts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="raise_alert")
    async def raise_alert(self, alert: Alert) -> bool:
        """True if the alert is new, False if its dedup key was raised already."""
        created = await alerts.open_alert(self._pool, alert)
        activity_log(alert.course_id, alert.session).warning(
            "alert raised" if created else "alert already raised",
            severity=alert.severity,
            condition=alert.condition,
            dedup_key=alert.dedup_key,
        )
        return created
