"""The local stack's dev tokens: issued into its PostgreSQL like any token, their secrets kept
in an owner-only file (`<state>/api-tokens.json`) for the demo's clients and its people."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import asyncpg
from pydantic import TypeAdapter, ValidationError

from domain.access import EVERY_CLINIC, Identity, Kind, Role
from store import tokens
from worker.files import read_private, replace_private

GATEWAY = "gateway-demo"
NURSE = "nurse-demo"
DOCTOR = "dr-demo"
OPERATOR = "operator-demo"


def dev_identities(clinic_id: str) -> tuple[Identity, ...]:
    """A device gateway and EHR, a nurse and a psychiatrist of the clinic, and an operator."""

    def person(actor: str, role: Role) -> Identity:
        return Identity(
            actor=actor, kind=Kind.PERSON, roles=frozenset({role}), clinics=frozenset({clinic_id})
        )

    gateway = Identity(
        actor=GATEWAY,
        kind=Kind.SYSTEM,
        roles=frozenset({Role.EHR, Role.DEVICE_GATEWAY}),
        clinics=frozenset({clinic_id}),
    )
    operator = Identity(
        actor=OPERATOR,
        kind=Kind.PERSON,
        roles=frozenset({Role.OPERATOR}),
        clinics=frozenset({EVERY_CLINIC}),
    )
    return gateway, person(NURSE, Role.NURSE), person(DOCTOR, Role.PSYCHIATRIST), operator


DEV_LIFETIME = timedelta(days=30)
ISSUER = "local-stack"

_FILE = TypeAdapter(dict[str, str])


def read_dev_tokens(path: Path) -> dict[str, str]:
    """Actor → token, as the stack last issued them; empty if it never did."""
    try:
        return _FILE.validate_json(read_private(path))
    except (FileNotFoundError, ValidationError):
        return {}


async def issue_dev_tokens(pool: asyncpg.Pool, path: Path, clinic_id: str) -> dict[str, str]:
    """The dev tokens for `clinic_id`, issued afresh unless every one in the file still signs
    its actor in (a new database, or ones expired or revoked, get new ones; the old are
    revoked)."""
    identities = dev_identities(clinic_id)
    held = read_dev_tokens(path)
    live = {
        actor: token
        for actor, token in held.items()
        if (found := await tokens.identify(pool, token)) and found[1].actor == actor
    }
    if set(live) == {who.actor for who in identities}:
        return live
    fresh = {}
    async with pool.acquire() as conn, conn.transaction():
        for who in identities:
            await tokens.revoke(conn, ISSUER, actor=who.actor)
            fresh[who.actor] = (await tokens.issue(conn, who, DEV_LIFETIME, ISSUER)).token
    replace_private(path, json.dumps(fresh, indent=2) + "\n")
    return fresh
