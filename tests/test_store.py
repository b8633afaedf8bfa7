"""The database layer against a real embedded PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from store.db import create_pool
from store.migrate import migrate, migrations
from store.outbox import enqueue


async def test_migrating_again_is_a_no_op(db_pool: asyncpg.Pool) -> None:
    assert await migrate(db_pool) == []
    rows = await db_pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in rows] == [m.version for m in migrations()]


async def test_concurrent_migrators_apply_each_migration_once(
    db_pool: asyncpg.Pool, postgres_url: str
) -> None:
    name = f"race_{uuid.uuid4().hex[:8]}"
    await db_pool.execute(f"CREATE DATABASE {name}")
    url = urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))
    first, second = await create_pool(url), await create_pool(url)
    try:
        results = await asyncio.gather(migrate(first), migrate(second))
    finally:
        await first.close()
        await second.close()

    assert sorted(results, key=len) == [[], [m.version for m in migrations()]]


async def test_enqueue_is_idempotent_per_effect_key(db_pool: asyncpg.Pool) -> None:
    key = f"course-c1:session-1:reminder-48h:{uuid.uuid4()}"
    notice = {
        "effect_key": key,
        "course_id": "c1",
        "channel": "sms",
        "recipient": "+15551234567",
        "kind": "reminder",
        "body": "See you Tuesday at 09:00",
    }

    assert await enqueue(db_pool, **notice) is True
    assert await enqueue(db_pool, **notice) is False
    rows = await db_pool.fetch("SELECT status FROM notification_outbox WHERE effect_key = $1", key)
    assert [row["status"] for row in rows] == ["pending"]


async def test_audit_log_is_append_only(db_pool: asyncpg.Pool) -> None:
    row_id = await db_pool.fetchval(
        "INSERT INTO audit_log (actor, action, course_id, details) VALUES ($1, $2, $3, $4) "
        "RETURNING id",
        "nurse-1",
        "vitals_recorded",
        "c1",
        {"session": 1},
    )

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db_pool.execute("UPDATE audit_log SET actor = 'someone' WHERE id = $1", row_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db_pool.execute("DELETE FROM audit_log WHERE id = $1", row_id)
    row = await db_pool.fetchrow("SELECT actor, details FROM audit_log WHERE id = $1", row_id)
    assert row is not None
    assert (row["actor"], row["details"]) == ("nurse-1", {"session": 1})
