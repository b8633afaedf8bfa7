"""One message per effect key through a sender, with the outbox row as the ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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
    """Send the message unless this effect was already sent or refused (see `send_once`)."""
    outcome = await send_once(
        pool,
        provider=sender.provider,
        send=lambda: sender.send(message),
        effect_key=message.effect_key,
        course_id=course_id,
        channel=channel,
        recipient=message.to,
        kind=kind,
        body=message.body,
        log=log,
    )
    return Delivery(
        channel=channel,
        status=outcome.status,
        provider_id=outcome.provider_id,
        error=outcome.error,
    )


@dataclass(frozen=True)
class SendOutcome:
    status: DeliveryStatus
    provider_id: str | None = None
    error: str | None = None


async def send_once(
    pool: asyncpg.Pool,
    *,
    provider: str,
    send: Callable[[], Awaitable[str]],
    effect_key: str,
    course_id: str,
    channel: str,
    recipient: str,
    kind: str,
    body: str,
    log: structlog.stdlib.BoundLogger,
) -> SendOutcome:
    """Call `send` (which returns the provider's id) unless this effect was already sent or
    refused.

    A refusal is recorded and returned as FAILED (never retried); a transient failure is
    recorded and raised, so Temporal retries the activity with backoff.
    """
    log = log.bind(channel=channel, kind=kind, effect_key=effect_key)
    row = await outbox.claim(
        pool,
        effect_key=effect_key,
        course_id=course_id,
        channel=channel,
        recipient=recipient,
        kind=kind,
        body=body,
    )
    if row.status is OutboxStatus.SENT:
        log.info("message_sent_already", provider_id=row.provider_id)
        return SendOutcome(DeliveryStatus.ALREADY_SENT, provider_id=row.provider_id)
    if row.status is OutboxStatus.FAILED:
        log.info("message_refused_earlier", error=row.last_error)
        return SendOutcome(DeliveryStatus.FAILED, error=row.last_error)
    try:
        provider_id = await send()
    except ProviderRejected as err:
        await outbox.record_failure(
            pool, row.id, provider=provider, error=err.summary, permanent=True
        )
        log.warning("message_refused_by_provider", error=err.summary, attempt=row.attempts)
        return SendOutcome(DeliveryStatus.FAILED, error=err.summary)
    except ProviderUnavailable as err:
        await outbox.record_failure(
            pool, row.id, provider=provider, error=err.summary, permanent=False
        )
        log.warning("provider_unavailable_retrying", error=err.summary, attempt=row.attempts)
        raise retryable(err) from err
    # Crash window: if the worker dies after the provider accepted the message and before
    # this UPDATE commits, the row stays pending and the retried activity sends it again.
    # Twilio's Messages API takes no idempotency key, so that one duplicate cannot be ruled
    # out; the window is a single round trip to Postgres. (E-mail carries a Message-ID
    # derived from the effect key, which lets a receiving system drop the duplicate; a pager
    # trigger carries the effect key as its dedup key, which the pager service deduplicates.)
    await outbox.mark_sent(pool, row.id, provider=provider, provider_id=provider_id)
    log.info("message_sent", provider=provider, provider_id=provider_id)
    return SendOutcome(DeliveryStatus.SENT, provider_id=provider_id)
