"""Console sessions are the server's: they end at sign-out, when their token is revoked, after
the idle time-out and at their lifetime; failed sign-ins are audited and throttled."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from api.console.access import COOKIE
from api.console.throttle import MAX_FAILURES
from cli.localstack import served
from domain.access import Identity, Kind, Role
from domain.escalation import Severity
from store import console_sessions, tokens
from tests.console_rows import next_snapshot, seed
from tests.http_api import api_settings
from worker.settings import Settings


def nurse(actor: str) -> Identity:
    return Identity(
        actor=actor, kind=Kind.PERSON, roles=frozenset({Role.NURSE}), clinics=frozenset({"*"})
    )


async def signed_in(http: httpx.AsyncClient, pool: asyncpg.Pool, actor: str) -> str:
    """Sign `http` in with a fresh token of `actor`; returns the token's id."""
    issued = await tokens.issue(pool, nurse(actor), timedelta(days=1), "tests")
    response = await http.post("/console/sign-in", data={"token": issued.token})
    assert response.status_code == 303, response.text
    return issued.token_id


async def test_a_cookie_replayed_after_sign_out_is_refused(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    await signed_in(api, db_pool, "nurse-sign-out")
    cookie = api.cookies[COOKIE]
    page = await api.get("/console")
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]

    out = await api.post("/console/sign-out", data={"csrf": csrf})
    api.cookies.set(COOKIE, cookie, path="/console")  # the stolen copy

    assert out.status_code == 303
    assert (await api.get("/console/escalations")).status_code == 401


async def test_revoking_the_token_ends_its_sessions_and_their_streams(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> None:
    app = create_app(api_settings(settings), client, db_pool)
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        token_id = await signed_in(http, db_pool, "nurse-revoked")
        async with http.stream("GET", "/console/events") as stream:
            lines = stream.aiter_lines()
            await next_snapshot(lines)
            await tokens.revoke(db_pool, "tests", token_id=token_id)
            # A turn of the stream: a change (here), or its keep-alive every 15 s.
            await seed(db_pool, Severity.ROUTINE, 0)
            # The stream checks its session at every turn: it ends, not serves on.
            with pytest.raises(AssertionError, match="the stream ended"):
                await next_snapshot(lines)
        assert (await http.get("/console/escalations")).status_code == 401


async def test_a_session_idle_too_long_ends_and_activity_keeps_it(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    await signed_in(api, db_pool, "nurse-idle")
    session_hash = await db_pool.fetchval(
        "SELECT session_hash FROM console_sessions WHERE actor = 'nurse-idle'"
    )

    async def idle_for(span: timedelta) -> None:
        await db_pool.execute(
            "UPDATE console_sessions SET last_seen_at = now() - $2::interval"
            " WHERE session_hash = $1",
            session_hash,
            span,
        )

    await idle_for(console_sessions.IDLE - timedelta(minutes=1))
    assert (await api.get("/console/escalations")).status_code == 200  # and seen again now
    assert (await api.get("/console/escalations")).status_code == 200
    await idle_for(console_sessions.IDLE + timedelta(seconds=1))
    assert (await api.get("/console/escalations")).status_code == 401


async def test_a_session_ends_at_its_lifetime_however_busy(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    await signed_in(api, db_pool, "nurse-shift")
    await db_pool.execute(
        "UPDATE console_sessions SET expires_at = now() WHERE actor = 'nurse-shift'"
    )

    assert (await api.get("/console/escalations")).status_code == 401


async def test_failed_sign_ins_are_audited_then_throttled(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    before = await db_pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'console.sign_in_refused'"
    )
    guesses = [
        await api.post("/console/sign-in", data={"token": f"trd_{'0' * 16}_{'x' * 43}"})
        for _ in range(MAX_FAILURES + 1)
    ]

    assert [g.status_code for g in guesses] == [401] * MAX_FAILURES + [429]
    after = await db_pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'console.sign_in_refused'"
    )
    assert after - before == MAX_FAILURES
