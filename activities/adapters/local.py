"""The offline defaults: nothing leaves the machine; the outbox table and the log show what
would have been sent."""

from __future__ import annotations

import asyncpg
import structlog

from activities.adapters.ports import OutgoingMessage, PagerAlert
from domain.escalation import PagerAction
from domain.rems import RemsMonitoringForm
from store import outbox

log = structlog.get_logger()


class OutboxSender:
    """Delivers into the outbox: the delivery ledger row (recipient, body) is the message."""

    provider = "outbox"

    async def send(self, message: OutgoingMessage) -> str:
        log.info("message_kept_in_local_outbox", effect_key=message.effect_key)
        return f"local:{message.effect_key}"


class OutboxPager:
    """Keeps pages in the outbox: the delivery ledger row (routing key, summary) is the page."""

    provider = "outbox"

    async def trigger(self, alert: PagerAlert) -> str:
        log.info("page_kept_in_local_outbox", dedup_key=alert.dedup_key)
        return f"local:{alert.dedup_key}"

    async def update(self, routing_key: str, dedup_key: str, action: PagerAction) -> str:
        log.info("pager_update_kept_in_local_outbox", dedup_key=dedup_key, action=action)
        return f"local:{dedup_key}/{action}"


class OutboxRemsPortal:
    """Queues the form in the outbox instead of posting it to the portal."""

    provider = "outbox"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def submit(self, form: RemsMonitoringForm) -> str:
        await outbox.enqueue(
            self._pool,
            effect_key=form.form_id,
            course_id=form.course_id,
            channel="rems",
            recipient="rems-portal",
            kind="rems_monitoring_form",
            body=form.model_dump_json(),
        )
        log.info("rems_form_kept_in_local_outbox", form_id=form.form_id)
        return f"local:{form.form_id}"
