"""The HTTP API in-process (httpx over ASGI), with fixed test tokens.

Free of pytest: the API tests and the flows that drive sessions through the API share it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from pydantic import SecretStr
from temporalio.client import Client

from api.app import create_app
from domain.access import EVERY_CLINIC, Identity, Kind, Role
from store.db import Executor
from store.tokens import secret_hash, token_id_of
from worker.settings import Settings

_EVERYWHERE = frozenset({EVERY_CLINIC})

TOKENS = {
    f"trd_gatewaytest00000_{'g' * 43}": Identity(
        actor="gateway-test",
        kind=Kind.SYSTEM,
        roles=frozenset({Role.EHR, Role.DEVICE_GATEWAY}),
        clinics=_EVERYWHERE,
    ),
    f"trd_nursetest0000000_{'n' * 43}": Identity(
        actor="nurse-test", kind=Kind.PERSON, roles=frozenset({Role.NURSE}), clinics=_EVERYWHERE
    ),
    f"trd_doctortest000000_{'d' * 43}": Identity(
        actor="dr-test",
        kind=Kind.PERSON,
        roles=frozenset({Role.PSYCHIATRIST}),
        clinics=_EVERYWHERE,
    ),
}
"""Fixed tokens of every clinic, so that modules can name them before any database exists;
`install_test_tokens` puts them in one."""
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
PAGERDUTY_WEBHOOK_SECRET = "test-pagerduty-webhook-secret"
NURSE = "nurse-test"


def token_of(actor: str) -> str:
    """The test token that signs in `actor`."""
    return next(token for token, who in TOKENS.items() if who.actor == actor)


def bearer(actor: str) -> dict[str, str]:
    """The Authorization header of the test token that signs in `actor`."""
    return {"Authorization": f"Bearer {token_of(actor)}"}


async def install_test_tokens(db: Executor) -> None:
    """Store `TOKENS` (hashed, as issued ones are), unless they are there."""
    for token, who in TOKENS.items():
        await db.execute(
            """
            INSERT INTO api_tokens
                (token_id, secret_hash, actor, kind, roles, clinics, issued_by, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, 'tests', now() + interval '30 days')
            ON CONFLICT DO NOTHING
            """,
            token_id_of(token),
            secret_hash(token.rsplit("_", 1)[1]),
            who.actor,
            who.kind,
            sorted(who.roles),
            sorted(who.clinics),
        )


def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "twilio_auth_token": SecretStr(TWILIO_AUTH_TOKEN),
            "pagerduty_webhook_secret": SecretStr(PAGERDUTY_WEBHOOK_SECRET),
        }
    )


@asynccontextmanager
async def api_client(
    settings: Settings, client: Client, pool: asyncpg.Pool, *, actor: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the API (with `api_settings`), signed in as `actor` by default (else
    per request)."""
    app = create_app(settings, client, pool)
    headers = bearer(actor) if actor else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", headers=headers
    ) as http:
        yield http
