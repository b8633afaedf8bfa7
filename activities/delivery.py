"""One message per effect key through a sender, with the outbox row as the ledger."""

from __future__ import annotations

import asyncpg
import structlog

from activities.adapters.errors import ProviderRejected, ProviderUnavailable, retryable
from activities.adapters.ports import OutgoingMessage, Sender
from domain.notices import Channel
from domain.records import Delivery, DeliveryStatus
from store import outbox
from store.outbox import OutboxStatus


async def deliver(
    pool: asyncpg.Pool,
    sender: Sender,
    message: OutgoingMessage,
    *,
    course_id: str,
    channel: Channel,
    kind: str,
    log: structlog.stdlib.BoundLogger,
) -> Delivery:
    """Send unless this effect was already sent or refused.

    A refusal is recorded and returned as FAILED (never retried); a transient failure is
    recorded and raised, so Temporal retries the activity with backoff.
    """
    log = log.bind(channel=channel, kind=kind, effect_key=message.effect_key)
    row = await outbox.claim(
        pool,
        effect_key=message.effect_key,
        course_id=course_id,
        channel=channel,
        recipient=message.to,
        kind=kind,
        body=message.body,
    )
    if row.status is OutboxStatus.SENT:
        log.info("message already sent", provider_id=row.provider_id)
        return Delivery(
            channel=channel, status=DeliveryStatus.ALREADY_SENT, provider_id=row.provider_id
        )
    if row.status is OutboxStatus.FAILED:
        log.info("message refused earlier", error=row.last_error)
        return Delivery(channel=channel, status=DeliveryStatus.FAILED, error=row.last_error)
    try:
        provider_id = await sender.send(message)
    except ProviderRejected as err:
        await outbox.record_failure(
            pool, row.id, provider=sender.provider, error=err.summary, permanent=True
        )
        log.warning("message refused by the provider", error=err.summary, attempt=row.attempts)
        return Delivery(channel=channel, status=DeliveryStatus.FAILED, error=err.summary)
    except ProviderUnavailable as err:
        await outbox.record_failure(
            pool, row.id, provider=sender.provider, error=err.summary, permanent=False
        )
        log.warning("provider unavailable, will retry", error=err.summary, attempt=row.attempts)
        raise retryable(err) from err
    # Crash window: if the worker dies after the provider accepted the message and before
    # this UPDATE commits, the row stays pending and the retried activity sends it again.
    # Twilio's Messages API takes no idempotency key, so that one duplicate cannot be ruled
    # out; the window is a single round trip to Postgres. (E-mail carries a Message-ID
    # derived from the effect key, which lets a receiving system drop the duplicate.)
    await outbox.mark_sent(pool, row.id, provider=sender.provider, provider_id=provider_id)
    log.info("message sent", provider=sender.provider, provider_id=provider_id)
    return Delivery(channel=channel, status=DeliveryStatus.SENT, provider_id=provider_id)
