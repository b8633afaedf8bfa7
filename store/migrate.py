"""Versioned SQL migrations, applied in file-name order, each exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Any fixed 64-bit number: it names the lock that serialises concurrent migrators.
_LOCK_ID = 0x7472_6466_6C6F_77  # "trdflow"

_CREATE_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str


def migrations() -> list[Migration]:
    """The packaged `migrations/NNNN_name.sql` files, oldest first."""
    folder = files("store") / "migrations"
    scripts = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    return [Migration(entry.name.removesuffix(".sql"), entry.read_text()) for entry in scripts]


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply the migrations not yet recorded; returns the versions applied now."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        # Session-level lock: a second process waits here, then finds nothing left to do.
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        try:
            await conn.execute(_CREATE_VERSIONS)
            rows = await conn.fetch("SELECT version FROM schema_migrations")
            done = {row["version"] for row in rows}
            for migration in migrations():
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)", migration.version
                    )
                log.info("migration_applied", version=migration.version)
                applied_now.append(migration.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    return applied_now
