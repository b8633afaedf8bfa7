"""The asyncpg connection pool."""

from __future__ import annotations

import json
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Executor: TypeAlias = asyncpg.Pool | PoolConnectionProxy
"""Where a statement runs: the pool, or a connection already inside a transaction."""


async def create_pool(url: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=1, max_size=10, init=_init_connection)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns (audit details) read and write as plain Python values.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
