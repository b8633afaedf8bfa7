"""Webhook deliveries already handled, by the provider's id (PagerDuty `event.id`, Twilio
`MessageSid`): each is acted on once, however often it arrives."""

from __future__ import annotations

from enum import StrEnum

from store.db import Executor

EVENT_ID_LIMIT = 200


class Source(StrEnum):
    PAGERDUTY = "pagerduty"
    TWILIO = "twilio"


async def first_delivery(db: Executor, source: Source, event_id: str) -> bool:
    """Claim the delivery's id: True the first time, False for a redelivery or a replay.

    Call it on the connection of the transaction that writes the delivery's audit row and
    effect: if that transaction rolls back, the id is free for the provider's retry, and a
    concurrent twin waits here until the first commits, then finds it claimed.
    """
    claimed = await db.fetchval(
        """
        INSERT INTO webhook_events (source, event_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        source,
        event_id,
    )
    return bool(claimed)
