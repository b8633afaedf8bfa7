"""The notification outbox: local adapters write here instead of calling a provider.

It is also the delivery ledger of patient and driver messages: one row per effect key,
pending until a provider accepts it (sent) or refuses it for good (failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from store.db import Executor


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    status: OutboxStatus
    attempts: int
    provider_id: str | None
    last_error: str | None


async def enqueue(
    db: Executor,
    *,
    effect_key: str,
    course_id: str | None,
    channel: str,
    recipient: str,
    kind: str,
    body: str,
) -> bool:
    """Record one notice per effect key; False when that effect was already recorded.

    A retried activity or a replayed worker calls this again with the same key, and the
    unique key turns the repeat into a no-op.
    """
    row_id = await db.fetchval(
        """
        INSERT INTO notification_outbox (effect_key, course_id, channel, recipient, kind, body)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (effect_key) DO NOTHING
        RETURNING id
        """,
        effect_key,
        course_id,
        channel,
        recipient,
        kind,
        body,
    )
    return row_id is not None


async def claim(
    db: Executor,
    *,
    effect_key: str,
    course_id: str,
    channel: str,
    recipient: str,
    kind: str,
    body: str,
) -> OutboxRow:
    """The row for this effect, created on first use; a pending row counts one more attempt.

    The caller sends only if the row comes back pending. A repeat keeps the first recipient
    and body.
    """
    row = await db.fetchrow(
        """
        INSERT INTO notification_outbox
            (effect_key, course_id, channel, recipient, kind, body, attempts)
        VALUES ($1, $2, $3, $4, $5, $6, 1)
        ON CONFLICT (effect_key) DO UPDATE SET
            attempts = notification_outbox.attempts
                + (notification_outbox.status = 'pending')::int,
            updated_at = now()
        RETURNING id, status, attempts, provider_id, last_error
        """,
        effect_key,
        course_id,
        channel,
        recipient,
        kind,
        body,
    )
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
    return OutboxRow(
        id=row["id"],
        status=OutboxStatus(row["status"]),
        attempts=row["attempts"],
        provider_id=row["provider_id"],
        last_error=row["last_error"],
    )


async def mark_sent(db: Executor, row_id: int, *, provider: str, provider_id: str) -> None:
    """Close the row with the provider's id, in the one statement that records success."""
    await db.execute(
        """
        UPDATE notification_outbox
        SET status = 'sent', provider = $2, provider_id = $3, sent_at = now(),
            last_error = NULL, updated_at = now()
        WHERE id = $1 AND status = 'pending'
        """,
        row_id,
        provider,
        provider_id,
    )


async def record_failure(
    db: Executor, row_id: int, *, provider: str, error: str, permanent: bool
) -> None:
    """A permanent refusal closes the row for good; a transient one leaves it pending for the
    next attempt."""
    await db.execute(
        """
        UPDATE notification_outbox
        SET status = CASE WHEN $4 THEN 'failed' ELSE status END,
            provider = $2, last_error = $3, updated_at = now()
        WHERE id = $1 AND status = 'pending'
        """,
        row_id,
        provider,
        error,
        permanent,
    )
