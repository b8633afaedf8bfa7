"""Staff single sign-on through OpenID Connect, against a local provider that signs real JWTs:
the code flow with PKCE gives a server-side console session with the roles and clinics of the
ID token's claims; a forged, misdirected, stale or replayed answer gives nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from api.app import create_app
from api.console.access import COOKIE
from cli.localstack import served
from tests.http_api import api_settings
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, LocalProvider, Mischief
from worker.settings import Settings

CLINIC = "sso-clinic"
NURSE_CLAIMS = {
    "sub": "u-1001",
    "preferred_username": "nurse-sso",
    "trdflow_roles": ["nurse", "some_other_apps_role"],
    "trdflow_clinics": [CLINIC],
}


@dataclass
class SignOn:
    provider: LocalProvider
    api: str
    http: httpx.AsyncClient

    async def attempt(self) -> httpx.Response:
        """Through the provider and back, as a browser follows the redirects."""
        start = await self.http.get(f"{self.api}/console/sso")
        assert start.status_code == 303, start.text
        assert start.headers["location"].startswith(self.provider.issuer)
        at_provider = await self.http.get(start.headers["location"])
        assert at_provider.status_code == 302, at_provider.text
        return await self.http.get(at_provider.headers["location"])


@pytest.fixture
async def sign_on(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> AsyncIterator[SignOn]:
    provider = LocalProvider(claims=dict(NURSE_CLAIMS))
    async with served(provider.app()) as issuer:
        provider.issuer = issuer
        configured = api_settings(settings).model_copy(
            update={
                "oidc_issuer": issuer,
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": SecretStr(CLIENT_SECRET),
            }
        )
        async with (
            served(create_app(configured, client, db_pool)) as api,
            httpx.AsyncClient() as http,
        ):
            yield SignOn(provider, api, http)


async def refusals(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'console.sign_in_refused'"
        " AND details->>'via' = 'sso'"
    )
    return count


async def test_a_person_signs_on_with_pkce_and_gets_a_session_of_their_claims(
    sign_on: SignOn, db_pool: asyncpg.Pool
) -> None:
    answered = await sign_on.attempt()

    assert answered.status_code == 303 and answered.headers["location"] == "/console"
    page = await sign_on.http.get(f"{sign_on.api}/console")
    assert "Signed in as <strong>nurse-sso</strong>" in page.text
    assert (await sign_on.http.get(f"{sign_on.api}/console/escalations")).status_code == 200
    [asked] = sign_on.provider.authorizations
    assert asked["code_challenge_method"] == "S256" and asked["response_type"] == "code"
    session = await db_pool.fetchrow(
        "SELECT kind, roles, clinics, token_id FROM console_sessions WHERE actor = 'nurse-sso'"
    )
    assert session is not None
    assert dict(session) == {
        "kind": "person",
        "roles": ["nurse"],  # the provider's other roles are not ours
        "clinics": [CLINIC],
        "token_id": None,
    }
    signed_in = await db_pool.fetchval(
        "SELECT details->>'via' FROM audit_log WHERE actor = 'nurse-sso'"
        " AND action = 'console.signed_in'"
    )
    assert signed_in == "sso"


@pytest.mark.parametrize("mischief", [m for m in Mischief if m is not Mischief.NONE])
async def test_a_token_forged_misdirected_or_stale_signs_no_one_on(
    sign_on: SignOn, db_pool: asyncpg.Pool, mischief: Mischief
) -> None:
    sign_on.provider.mischief = mischief
    before = await refusals(db_pool)

    answered = await sign_on.attempt()

    assert answered.status_code == 401
    assert COOKIE not in answered.cookies
    assert (await sign_on.http.get(f"{sign_on.api}/console/escalations")).status_code == 401
    assert await refusals(db_pool) == before + 1


async def test_a_replayed_answer_signs_no_one_on(sign_on: SignOn) -> None:
    start = await sign_on.http.get(f"{sign_on.api}/console/sso")
    callback = (await sign_on.http.get(start.headers["location"])).headers["location"]

    first = await sign_on.http.get(callback)
    sign_on.http.cookies.clear()
    again = await sign_on.http.get(callback)

    assert (first.status_code, again.status_code) == (303, 401)


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({**NURSE_CLAIMS, "trdflow_roles": ["clinic_admin"]}, 403),  # may not handle escalations
        ({**NURSE_CLAIMS, "trdflow_roles": []}, 401),  # no role of ours
        ({**NURSE_CLAIMS, "trdflow_clinics": []}, 401),  # no clinic
        ({**NURSE_CLAIMS, "trdflow_roles": ["ehr"]}, 401),  # a system's role, for a person
    ],
)
async def test_claims_that_do_not_make_a_console_user_are_refused(
    sign_on: SignOn, claims: dict[str, object], code: int
) -> None:
    sign_on.provider.claims = claims

    answered = await sign_on.attempt()

    assert answered.status_code == code
    assert COOKIE not in answered.cookies


async def test_the_sign_in_page_offers_single_sign_on_only_when_configured(
    sign_on: SignOn, api: httpx.AsyncClient
) -> None:
    configured = await sign_on.http.get(f"{sign_on.api}/console")
    plain = await api.get("/console")

    assert '<p class="sso" >' in configured.text
    assert '<p class="sso" hidden>' in plain.text
    assert (await api.get("/console/sso")).status_code == 404
