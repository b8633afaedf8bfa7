"""The notification outbox: local adapters write here instead of calling a provider."""

from __future__ import annotations

import asyncpg


async def enqueue(
    pool: asyncpg.Pool,
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
    row_id = await pool.fetchval(
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
