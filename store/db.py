"""The asyncpg connection pool, and which of its failures mean the database is unreachable."""

from __future__ import annotations

import json
from typing import TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

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


APP_ROLE = "trdflow_app"
"""The application's role (migration 0013): it may append to the audit log, never change it."""

VERIFIED_SSLMODES = frozenset({"verify-full", "verify-ca"})
"""asyncpg checks the server's certificate only under these (below them, `prefer` and `require`
encrypt but accept any certificate, so an attacker on the path reads everything)."""


def unverified_transport(url: str) -> str | None:
    """Why a connection to `url` could be read or altered on its way, or None when it is safe:
    `sslmode` verify-full (or verify-ca) in the URL, or only unix-socket hosts (a local socket
    crosses no network). Never quotes the URL, which may hold a password."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    sslmode = query.get("sslmode", [""])[-1]
    if sslmode in VERIFIED_SSLMODES:
        return None
    # asyncpg's order: the URL's host(s), else its `host` parameter; with neither it tries
    # PGHOST or default sockets and then localhost over TCP, which is not known to be local.
    hostspec = parts.netloc.rpartition("@")[2] or query.get("host", [""])[-1]
    hosts = [unquote(host) for host in hostspec.split(",") if host]
    if hosts and all(host.startswith("/") for host in hosts):
        return None
    found = f"sslmode={sslmode}" if sslmode else "no sslmode"
    return (
        f"{found}: without TLS whose certificate is checked, an attacker on the path can read "
        "or alter the connection; add sslmode=verify-full (and sslrootcert=<CA file>, unless "
        "~/.postgresql/root.crt holds the CA), or use a unix socket"
    )


async def create_pool(url: str, role: str | None = None) -> asyncpg.Pool:
    """A pool of `url`; with `role`, its sessions run as that role (the application's, which
    may only append to the audit log). A session default: the pool's reset keeps it."""
    return await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=10,
        init=_init_connection,
        timeout=CONNECT_TIMEOUT_S,
        server_settings={"role": role} if role else None,
    )


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns (audit details) read and write as plain Python values.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
