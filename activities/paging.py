"""Paging on-call staff for an escalation, keeping the pager service in step, and recording
each step of the escalation for the console and the audit log.

A page goes to the person on call for the role (or the person it was reassigned to): by pager
when they have a routing key, else, or when the pager refuses the page, by SMS to their phone.
Each page has an effect key `<escalation_id>/page-<attempt>`, so a retried activity never pages
twice; with the local outbox defaults nothing leaves the machine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import asyncpg
import structlog
from temporalio import activity

from activities.adapters.local import OutboxSender
from activities.adapters.pager import SEVERITIES
from activities.adapters.ports import OutgoingMessage, Pager, PagerAlert, Sender
from activities.delivery import deliver, send_once
from domain.escalation import (
    EscalationRecord,
    PageChannel,
    PageRequest,
    PageResult,
    PagerUpdate,
)
from domain.notices import Channel
from domain.records import DeliveryStatus
from store import escalations, oncall
from store.audit import record_audit_once
from store.escalations import PAGE_KIND, PAGER_CHANNEL, page_key
from store.oncall import OnCallEntry
from worker.metrics import CONDITION_TO_PAGE, PAGES

NOT_PAGED = "none"
"""The channel label of a page that reached nobody."""

log = structlog.get_logger(__name__)


class Paging:
    def __init__(self, pool: asyncpg.Pool, pager: Pager, sms: Sender) -> None:
        self._pool = pool
        self._pager = pager
        self._sms = sms

    @activity.defn(name="page_on_call")
    async def page_on_call(self, request: PageRequest) -> PageResult:
        """Page the person once per attempt; `staff_id` None when nobody is on call."""
        trigger = request.trigger
        paging = log.bind(
            escalation_id=request.escalation_id, role=request.role, attempt=request.attempt
        )
        person = await self._whom(request)
        if person is None:
            paging.warning("nobody_on_call_to_page")
            PAGES.labels(NOT_PAGED, "nobody_on_call").inc()
            return PageResult(staff_id=None)
        paging = paging.bind(staff_id=person.staff_id)
        key = page_key(request.escalation_id, request.attempt)
        if person.pager_routing_key is not None:
            alert = _alert(request, key, person.pager_routing_key)
            paged = await send_once(
                self._pool,
                provider=self._pager.provider,
                send=partial(self._pager.trigger, alert),
                effect_key=key,
                course_id=trigger.course_id,
                channel=PAGER_CHANNEL,
                recipient=alert.routing_key,
                kind=PAGE_KIND,
                body=alert.summary,
                log=paging,
            )
            if paged.status is not DeliveryStatus.FAILED:
                shown = _shown(self._pager.provider, PageChannel.PAGER)
                return await self._sent(request, person, shown, paged.status, paged.provider_id)
            paging.warning("page_refused_by_pager_falling_back_to_sms")
        message = OutgoingMessage(
            effect_key=f"{key}/sms", to=person.phone, subject="", body=page_text(request)
        )
        texted = await deliver(
            self._pool,
            self._sms,
            message,
            course_id=trigger.course_id,
            channel=Channel.SMS,
            kind=PAGE_KIND,
            log=paging,
        )
        if texted.status is DeliveryStatus.FAILED:
            paging.error("page_refused_on_every_channel")
            PAGES.labels(NOT_PAGED, "refused").inc()
            return PageResult(staff_id=person.staff_id)
        shown = _shown(self._sms.provider, PageChannel.SMS)
        return await self._sent(request, person, shown, texted.status, texted.provider_id)

    async def _sent(
        self,
        request: PageRequest,
        person: OnCallEntry,
        channel: PageChannel,
        status: DeliveryStatus,
        provider_id: str | None,
    ) -> PageResult:
        """A page reached someone: it is theirs to acknowledge until its rung's time is up
        (the activity's schedule-to-close timeout, set by the ladder). A retry that finds it
        sent already counts as such; its latency was counted when it was sent."""
        info = activity.info()
        if info.schedule_to_close_timeout is not None:
            await escalations.record_page(
                self._pool,
                request.escalation_id,
                request.attempt,
                info.scheduled_time,
                info.schedule_to_close_timeout,
            )
        PAGES.labels(channel, status).inc()
        if request.attempt == 1 and status is DeliveryStatus.SENT:
            waited = datetime.now(UTC) - request.trigger.raised_at
            CONDITION_TO_PAGE.labels(request.trigger.severity).observe(waited.total_seconds())
        return PageResult(staff_id=person.staff_id, channel=channel, provider_id=provider_id)

    async def _whom(self, request: PageRequest) -> OnCallEntry | None:
        if request.staff_id is not None:
            return await oncall.by_staff(self._pool, request.staff_id)
        # When the page was first asked for, so that a retry pages the same person.
        at = activity.info().scheduled_time
        return await oncall.on_call(self._pool, request.trigger.clinic_id, request.role, at)

    @activity.defn(name="update_pager")
    async def update_pager(self, update: PagerUpdate) -> None:
        """Acknowledge or resolve, once each, every page the pager service took."""
        updating = log.bind(escalation_id=update.escalation_id, action=update.action)
        pages = await escalations.pager_pages(self._pool, update.escalation_id)
        for page in pages:
            await send_once(
                self._pool,
                provider=self._pager.provider,
                send=partial(self._pager.update, page.routing_key, page.dedup_key, update.action),
                effect_key=f"{page.dedup_key}/{update.action}",
                course_id=page.course_id,
                channel=PAGER_CHANNEL,
                recipient=page.routing_key,
                kind=f"{PAGE_KIND}_{update.action}",
                body="",
                log=updating,
            )
        updating.info("pager_updated", pages=len(pages))


class EscalationRecords:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="record_escalation")
    async def record_escalation(self, record: EscalationRecord) -> None:
        """Update the console's row and audit the step, once per (escalation, step, time)."""
        trigger = record.trigger
        info = activity.info()
        recorded = log.bind(
            escalation_id=record.escalation_id, step=record.step, status=record.status
        )
        # No free text in the audit details: the detail (a resolution note) may name the
        # patient. It is kept in the escalation's row.
        details = {
            "escalation_id": record.escalation_id,
            "workflow_id": info.workflow_id,
            "session": trigger.session,
            "severity": trigger.severity,
            "condition": trigger.condition,
            "status": record.status,
            "assigned_to": record.assigned_to,
            "reading_id": trigger.reading_id,
        }
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await record_audit_once(
                conn,
                effect_key=f"{record.escalation_id}/{record.step}/{record.at.astimezone(UTC).isoformat()}",
                actor=record.actor,
                action=f"escalation.{record.step}",
                course_id=trigger.course_id,
                details=details,
            )
            if fresh:
                await escalations.upsert_from_record(conn, record)
        recorded.info("escalation_step_recorded" if fresh else "escalation_step_recorded_already")


def page_text(request: PageRequest) -> str:
    """The SMS page: the trigger's PHI-free summary and where to answer it."""
    trigger = request.trigger
    where = f"course {trigger.course_id}"
    if trigger.session is not None:
        where += f", session {trigger.session}"
    return (
        f"trdflow {trigger.severity.upper()}: {trigger.summary} ({where}). "
        f"Acknowledge escalation {request.escalation_id} on the on-call console."
    )


def _alert(request: PageRequest, key: str, routing_key: str) -> PagerAlert:
    trigger = request.trigger
    return PagerAlert(
        routing_key=routing_key,
        dedup_key=key,
        summary=trigger.summary,
        severity=SEVERITIES[trigger.severity],
        source=f"trdflow/{trigger.clinic_id}",
        component=trigger.condition,
        details={
            "escalation_id": request.escalation_id,
            "course_id": trigger.course_id,
            "clinic_id": trigger.clinic_id,
            "session": trigger.session,
            "phase": trigger.phase,
            "severity": trigger.severity,
            "condition": trigger.condition,
            "reading_id": trigger.reading_id,
            "role": request.role,
            "attempt": request.attempt,
        },
    )


def _shown(provider: str, channel: PageChannel) -> PageChannel:
    """The local outbox standing in for a provider is its own channel: no phone was reached."""
    return PageChannel.OUTBOX if provider == OutboxSender.provider else channel
