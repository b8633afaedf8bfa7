"""Asking the session's driver to confirm the ride home."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from activities.adapters.ports import OutgoingMessage, Sender
from activities.delivery import deliver
from domain.notices import Channel
from domain.records import (
    DeliveryStatus,
    TransportRequest,
    TransportRequestResult,
    TransportRequestStatus,
)
from domain.texts import transport_request_text
from store import transport

log = structlog.get_logger(__name__)


class TransportRequests:
    def __init__(self, pool: asyncpg.Pool, sms: Sender) -> None:
        self._pool = pool
        self._sms = sms

    @activity.defn(name="request_transport_confirmation")
    async def request_transport_confirmation(
        self, request: TransportRequest
    ) -> TransportRequestResult:
        """SMS the arranged driver for a YES reply (once per driver named), or NO_DRIVER."""
        driver = await transport.driver(self._pool, request.course_id, request.session)
        if driver is None:
            log.info("no_driver_arranged")
            return TransportRequestResult(status=TransportRequestStatus.NO_DRIVER)
        message = OutgoingMessage(
            effect_key=(
                f"course-{request.course_id}/session-{request.session}"
                f"/transport-request-{driver.revision}/sms"
            ),
            to=driver.phone,
            subject="",
            body=transport_request_text(request.scheduled_at, request.clinic_timezone),
        )
        delivery = await deliver(
            self._pool,
            self._sms,
            message,
            course_id=request.course_id,
            channel=Channel.SMS,
            kind="transport_request",
            log=log,
        )
        if delivery.status is DeliveryStatus.FAILED:
            return TransportRequestResult(status=TransportRequestStatus.FAILED, delivery=delivery)
        await transport.mark_requested(
            self._pool,
            request.course_id,
            request.session,
            revision=driver.revision,
            provider_id=delivery.provider_id,
        )
        return TransportRequestResult(status=TransportRequestStatus.REQUESTED, delivery=delivery)
