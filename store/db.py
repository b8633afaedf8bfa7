"""The asyncpg connection pool."""

from __future__ import annotations

import json

import asyncpg


async def create_pool(url: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=1, max_size=10, init=_init_connection)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns (audit details) read and write as plain Python values.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
