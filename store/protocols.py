"""Clinic protocols (S8): the versions each clinic publishes, and the one a course pins.

A published version never changes. A clinic's current protocol is the version it published
last; a clinic that has published none runs the label's defaults (`Protocol()`).
"""

from __future__ import annotations

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.protocol import PROTOCOL_VERSION, Protocol
from store.audit import record_audit
from store.db import Executor

PUBLISH_ACTION = "protocol.publish"


class PublishedProtocol(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    clinic_id: str
    published_by: str
    published_at: AwareDatetime
    protocol: Protocol

    @property
    def version(self) -> str:
        return self.protocol.version


class VersionTakenError(ValueError):
    """The clinic already published this version with other values."""


async def publish(
    pool: asyncpg.Pool, clinic_id: str, protocol: Protocol, published_by: str
) -> tuple[PublishedProtocol, bool]:
    """Publish the version as the clinic's current protocol, audited in the same transaction.
    Publishing the same values again changes nothing; returns the entry and whether it is new."""
    if protocol.version == PROTOCOL_VERSION:
        raise ValueError(f"version {PROTOCOL_VERSION} names the label's defaults: choose another")
    async with pool.acquire() as conn, conn.transaction():
        # One publish per clinic at a time, so the version published last is the current one.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", clinic_id)
        row = await conn.fetchrow(
            f"""
            INSERT INTO clinic_protocols (clinic_id, version, protocol, published_by)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (clinic_id, version) DO NOTHING
            RETURNING {_COLUMNS}
            """,
            clinic_id,
            protocol.version,
            protocol.model_dump(mode="json"),
            published_by,
        )
        if row is None:
            existing = await version(conn, clinic_id, protocol.version)
            assert existing is not None  # the conflict was with it, and versions are never deleted
            if existing.protocol != protocol:
                raise VersionTakenError(
                    f"{clinic_id} already published version {protocol.version} with other "
                    "values: publish a new version"
                )
            return existing, False
        await record_audit(
            conn,
            published_by,
            PUBLISH_ACTION,
            None,
            {"clinic_id": clinic_id, "version": protocol.version},
        )
        return _published(row), True


async def current(db: Executor, clinic_id: str) -> PublishedProtocol | None:
    """The version the clinic published last (None: it runs the label's defaults)."""
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM clinic_protocols WHERE clinic_id = $1 ORDER BY seq DESC LIMIT 1",
        clinic_id,
    )
    return None if row is None else _published(row)


async def version(db: Executor, clinic_id: str, name: str) -> PublishedProtocol | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM clinic_protocols WHERE clinic_id = $1 AND version = $2",
        clinic_id,
        name,
    )
    return None if row is None else _published(row)


async def versions(db: Executor, clinic_id: str) -> list[PublishedProtocol]:
    """Every version the clinic published, the current one first."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM clinic_protocols WHERE clinic_id = $1 ORDER BY seq DESC",
        clinic_id,
    )
    return [_published(row) for row in rows]


async def pinned(db: Executor, clinic_id: str, name: str) -> Protocol:
    """The protocol a course pinned by version name: the label's, or one the clinic published."""
    if name == PROTOCOL_VERSION:
        return Protocol()
    published = await version(db, clinic_id, name)
    if published is None:
        raise LookupError(f"{clinic_id} has no protocol version {name}")
    return published.protocol


async def current_version(db: Executor, clinic_id: str) -> str:
    """The version a course starting now pins."""
    published = await current(db, clinic_id)
    return PROTOCOL_VERSION if published is None else published.version


_COLUMNS = "clinic_id, published_by, published_at, protocol"


def _published(row: asyncpg.Record) -> PublishedProtocol:
    return PublishedProtocol.model_validate(dict(row))
