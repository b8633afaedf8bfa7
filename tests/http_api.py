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
from worker.settings import ApiIdentity, Settings

TOKENS = {
    "test-token-gateway": ApiIdentity(actor="gateway-test", role="service"),
    "test-token-nurse": ApiIdentity(actor="nurse-test", role="staff"),
    "test-token-doctor": ApiIdentity(actor="dr-test", role="staff"),
}
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
PAGERDUTY_WEBHOOK_SECRET = "test-pagerduty-webhook-secret"
NURSE = "nurse-test"


def token_of(actor: str) -> str:
    """The test token that signs in `actor`."""
    return next(token for token, who in TOKENS.items() if who.actor == actor)


def bearer(actor: str) -> dict[str, str]:
    """The Authorization header of the test token that signs in `actor`."""
    return {"Authorization": f"Bearer {token_of(actor)}"}


def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "api_tokens": {SecretStr(token): who for token, who in TOKENS.items()},
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
