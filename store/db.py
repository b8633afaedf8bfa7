"""The asyncpg connection pool, and which of its failures mean the database is unreachable."""

from __future__ import annotations

import json
from typing import TypeAlias

import asyncpg
from asyncpg import exceptions as pg
from asyncpg.pool import PoolConnectionProxy

Executor: TypeAlias = asyncpg.Pool | PoolConnectionProxy
"""Where a statement runs: the pool, or a connection already inside a transaction."""

CONNECT_TIMEOUT_S = 10.0
"""A connection attempt to an unresponsive server fails after this, rather than asyncpg's 60 s."""

UNREACHABLE: tuple[type[Exception], ...] = (
    # Connecting: refused, no socket, reset, timed out (TimeoutError is an OSError).
    OSError,
    # Connection lost or refused at the protocol level (SQLSTATE class 08).
    pg.PostgresConnectionError,
    # The server is starting, shutting down or crashed, or out of connection slots.
    pg.CannotConnectNowError,
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.TooManyConnectionsError,
    # "connection is closed", "pool is closed": see `unreachable`.
    asyncpg.InterfaceError,
)
"""The exception classes that can mean the database cannot be reached; `unreachable` decides."""


def unreachable(err: BaseException) -> bool:
    """Whether a failure of a database call means the database cannot be reached (retry later),
    rather than a fault of the statement."""
    if isinstance(err, asyncpg.InterfaceError):
        # asyncpg has no subclass for a closed connection or pool; its other interface errors
        # are misuse (a bug), which must not pass for an outage.
        return "closed" in str(err) or "closing" in str(err)
    return isinstance(err, UNREACHABLE)


async def create_pool(url: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url, min_size=1, max_size=10, init=_init_connection, timeout=CONNECT_TIMEOUT_S
    )


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns (audit details) read and write as plain Python values.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
