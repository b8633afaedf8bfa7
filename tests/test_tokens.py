"""Callers' tokens: kept hashed, live until they expire or are revoked, of a fixed strength;
and identities that hold together (roles of their kind, a scope of clinics)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from cli.devtokens import dev_identities, issue_dev_tokens, read_dev_tokens
from domain.access import EVERY_CLINIC, Identity, Kind, Permission, Role
from store import tokens

NURSE = Identity(
    actor="nurse-tokens", kind=Kind.PERSON, roles=frozenset({Role.NURSE}), clinics=frozenset({"a"})
)


async def test_an_issued_token_signs_in_its_identity_and_only_its_hash_is_kept(
    db_pool: asyncpg.Pool,
) -> None:
    issued = await tokens.issue(db_pool, NURSE, timedelta(days=1), "tests")
    secret = issued.token.removeprefix(f"trd_{issued.token_id}_")

    assert await tokens.identify(db_pool, issued.token) == (issued.token_id, NURSE)
    row = await db_pool.fetchrow("SELECT * FROM api_tokens WHERE token_id = $1", issued.token_id)
    assert row is not None
    assert all(secret not in str(value) for value in dict(row).values())
    assert len(secret) >= 43  # 256 bits


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # wrong secret
        lambda token: token[:-2],  # too short
        lambda token: token.replace("trd_", "xyz_"),
        lambda token: "",
    ],
)
async def test_anything_but_the_token_itself_signs_no_one_in(
    db_pool: asyncpg.Pool, mangle: Callable[[str], str]
) -> None:
    issued = await tokens.issue(db_pool, NURSE, timedelta(days=1), "tests")

    assert await tokens.identify(db_pool, mangle(issued.token)) is None


async def test_revoked_and_expired_tokens_sign_no_one_in(db_pool: asyncpg.Pool) -> None:
    revoked = await tokens.issue(db_pool, NURSE, timedelta(days=1), "tests")
    expired = await tokens.issue(db_pool, NURSE, timedelta(days=1), "tests")
    await db_pool.execute(
        "UPDATE api_tokens SET issued_at = now() - interval '2 days',"
        " expires_at = now() - interval '1 second' WHERE token_id = $1",
        expired.token_id,
    )

    assert await tokens.revoke(db_pool, "tests", token_id=revoked.token_id) == [revoked.token_id]
    assert await tokens.identify(db_pool, revoked.token) is None
    assert await tokens.identify(db_pool, expired.token) is None
    assert await tokens.revoke(db_pool, "tests", token_id=revoked.token_id) == []


async def test_a_token_lives_a_year_at_most(db_pool: asyncpg.Pool) -> None:
    for lifetime in (timedelta(0), tokens.MAX_LIFETIME + timedelta(days=1)):
        with pytest.raises(ValueError, match="at most"):
            await tokens.issue(db_pool, NURSE, lifetime, "tests")


@pytest.mark.parametrize(
    ("kind", "roles", "clinics", "problem"),
    [
        (Kind.PERSON, {Role.EHR}, {"a"}, "cannot hold"),
        (Kind.SYSTEM, {Role.NURSE}, {"a"}, "cannot hold"),
        (Kind.PERSON, {Role.NURSE}, {EVERY_CLINIC, "a"}, "stands alone"),
        (Kind.PERSON, set(), {"a"}, "at least 1"),
        (Kind.PERSON, {Role.NURSE}, set(), "at least 1"),
        (Kind.PERSON, {Role.NURSE}, {"Clinic A"}, "pattern"),
    ],
)
def test_identities_hold_together(
    kind: Kind, roles: set[Role], clinics: set[str], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        Identity(actor="someone", kind=kind, roles=frozenset(roles), clinics=frozenset(clinics))


def test_roles_grant_least_privilege() -> None:
    def who(role: Role, kind: Kind) -> Identity:
        return Identity(actor="x", kind=kind, roles=frozenset({role}), clinics=frozenset({"a"}))

    gateway = who(Role.DEVICE_GATEWAY, Kind.SYSTEM)
    assert gateway.permissions == {Permission.SUBMIT_VITALS}
    assert not who(Role.NURSE, Kind.PERSON).may(Permission.START_COURSE)
    assert not who(Role.OPERATOR, Kind.PERSON).may(Permission.ACT_IN_ROOM)
    assert who(Role.OPERATOR, Kind.PERSON).may(Permission.DECODE_PAYLOADS)
    assert not who(Role.NURSE, Kind.PERSON).may(Permission.DECODE_PAYLOADS)


async def test_dev_tokens_are_issued_once_owner_only_and_again_when_revoked(
    db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path = tmp_path / "api-tokens.json"

    first = await issue_dev_tokens(db_pool, path, "dev-clinic")
    again = await issue_dev_tokens(db_pool, path, "dev-clinic")
    await tokens.revoke(db_pool, "tests", actor="nurse-demo")
    renewed = await issue_dev_tokens(db_pool, path, "dev-clinic")

    assert path.stat().st_mode & 0o777 == 0o600
    assert again == first == {who.actor: first[who.actor] for who in dev_identities("dev-clinic")}
    assert renewed != first and read_dev_tokens(path) == renewed
    for actor, token in renewed.items():
        found = await tokens.identify(db_pool, token)
        assert found is not None and found[1].actor == actor
    assert await tokens.identify(db_pool, first["gateway-demo"]) is None  # the old set revoked
