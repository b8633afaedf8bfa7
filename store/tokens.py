"""Callers' bearer tokens: issued here, kept only as hashes, revoked by id or by actor.

A token reads `trd_<id>_<secret>`: the id finds its row, the secret (256 random bits) is
compared with the stored SHA-256 in constant time. Anything shorter is no token of ours.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from domain.access import Identity
from store.db import Executor

PREFIX = "trd_"
SECRET_BYTES = 32
_SHAPE = re.compile(r"^trd_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$")

MAX_LIFETIME = timedelta(days=366)


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    token: str
    """Shown once, to the one it is issued for; never stored."""
    expires_at: datetime


@dataclass(frozen=True)
class TokenRow:
    token_id: str
    identity: Identity
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def secret_hash(secret: str) -> bytes:
    """What is kept of a random secret (a token's, a console session's, a sign-on's state):
    256 random bits need no slow hash."""
    return hashlib.sha256(secret.encode()).digest()


async def issue(
    db: Executor, identity: Identity, lifetime: timedelta, issued_by: str
) -> IssuedToken:
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError(f"a token lives more than 0 and at most {MAX_LIFETIME.days} days")
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    expires_at: datetime = await db.fetchval(
        """
        INSERT INTO api_tokens
            (token_id, secret_hash, actor, kind, roles, clinics, issued_by, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)
        RETURNING expires_at
        """,
        token_id,
        secret_hash(secret),
        identity.actor,
        identity.kind,
        sorted(identity.roles),
        sorted(identity.clinics),
        issued_by,
        lifetime,
    )
    return IssuedToken(token_id, f"{PREFIX}{token_id}_{secret}", expires_at)


def token_id_of(token: str) -> str | None:
    """The id a well-formed token names; None for anything else."""
    shape = _SHAPE.match(token)
    return shape.group(1) if shape else None


async def identify(db: Executor, token: str) -> tuple[str, Identity] | None:
    """The token's id and whom it signs in, if it is live (not expired, not revoked)."""
    shape = _SHAPE.match(token)
    if shape is None:
        return None
    token_id, secret = shape.groups()
    row = await db.fetchrow(
        f"SELECT secret_hash, {_IDENTITY} FROM api_tokens"
        " WHERE token_id = $1 AND revoked_at IS NULL AND expires_at > now()",
        token_id,
    )
    if row is None or not hmac.compare_digest(row["secret_hash"], secret_hash(secret)):
        return None
    return token_id, identity_of(row)


async def revoke(
    db: Executor, by: str, *, token_id: str | None = None, actor: str | None = None
) -> list[str]:
    """Revoke one token, or every live token of an actor: the ids revoked now."""
    rows = await db.fetch(
        """
        UPDATE api_tokens SET revoked_at = now(), revoked_by = $3
        WHERE revoked_at IS NULL AND (token_id = $1 OR actor = $2)
        RETURNING token_id
        """,
        token_id,
        actor,
        by,
    )
    return sorted(row["token_id"] for row in rows)


async def list_tokens(db: Executor, *, include_dead: bool = False) -> list[TokenRow]:
    rows = await db.fetch(
        f"""
        SELECT token_id, issued_by, issued_at, expires_at, revoked_at, {_IDENTITY}
        FROM api_tokens
        WHERE $1 OR (revoked_at IS NULL AND expires_at > now())
        ORDER BY actor, issued_at
        """,
        include_dead,
    )
    return [
        TokenRow(
            token_id=row["token_id"],
            identity=identity_of(row),
            issued_by=row["issued_by"],
            issued_at=row["issued_at"],
            expires_at=row["expires_at"],
            revoked_at=row["revoked_at"],
        )
        for row in rows
    ]


_IDENTITY = "actor, kind, roles, clinics"
"""The columns `identity_of` reads, in every table that keeps an identity."""


def identity_of(row: asyncpg.Record) -> Identity:
    return Identity(
        actor=row["actor"], kind=row["kind"], roles=row["roles"], clinics=row["clinics"]
    )
