"""Console sign-ins, kept on the server: a session ends at sign-out, when the token it was
opened with is revoked or expires, after `IDLE` without a request, and at `LIFETIME`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.access import Identity
from store.db import Executor
from store.tokens import identity_of, secret_hash

IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
"""A shift: after it, staff sign in again."""


@dataclass(frozen=True)
class ConsoleSession:
    identity: Identity
    csrf_token: str
    expires_at: datetime


async def open_session(db: Executor, identity: Identity, token_id: str | None) -> str:
    """A new session for `identity`: the secret its cookie carries."""
    secret = secrets.token_urlsafe(32)
    await db.execute(
        """
        INSERT INTO console_sessions
            (session_hash, csrf_token, actor, kind, roles, clinics, token_id, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)
        """,
        secret_hash(secret),
        secrets.token_urlsafe(32),
        identity.actor,
        identity.kind,
        sorted(identity.roles),
        sorted(identity.clinics),
        token_id,
        LIFETIME,
    )
    return secret


async def find(db: Executor, secret: str, *, touch: bool = True) -> ConsoleSession | None:
    """The live session a cookie's secret names; a request (`touch`) keeps it from idling out."""
    row = await db.fetchrow(
        """
        UPDATE console_sessions s SET last_seen_at = CASE WHEN $3 THEN now() ELSE last_seen_at END
        WHERE s.session_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
          AND s.last_seen_at > now() - $2::interval
          AND (s.token_id IS NULL OR EXISTS (
                SELECT FROM api_tokens t WHERE t.token_id = s.token_id
                  AND t.revoked_at IS NULL AND t.expires_at > now()))
        RETURNING s.csrf_token, s.expires_at, s.actor, s.kind, s.roles, s.clinics
        """,
        secret_hash(secret),
        IDLE,
        touch,
    )
    if row is None:
        return None
    return ConsoleSession(identity_of(row), row["csrf_token"], row["expires_at"])


async def end(db: Executor, secret: str) -> None:
    await db.execute(
        "UPDATE console_sessions SET ended_at = now() WHERE session_hash = $1 AND ended_at IS NULL",
        secret_hash(secret),
    )


async def end_for_actor(db: Executor, actor: str) -> int:
    """End every open session of a person (revoked, or signed out everywhere): how many."""
    ended: str = await db.execute(
        "UPDATE console_sessions SET ended_at = now() WHERE actor = $1 AND ended_at IS NULL",
        actor,
    )
    return int(ended.split()[-1])
