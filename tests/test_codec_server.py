"""The remote codec endpoint the Temporal Web UI calls from the browser: it decrypts PHI, so
it signs every caller in, checks what the caller may decode, audits every use, caps bodies and
answers only its own hosts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from domain.access import EVERY_CLINIC, Identity, Kind, Role
from store import tokens
from worker.codec import ENCODING
from worker.codec_server import MAX_BODY_BYTES, create_app
from worker.settings import Settings

PAYLOAD = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name": "Jane Roe"}')
NAMESPACE = {"X-Namespace": "default"}


def person(actor: str, role: Role, clinics: set[str]) -> Identity:
    return Identity(
        actor=actor, kind=Kind.PERSON, roles=frozenset({role}), clinics=frozenset(clinics)
    )


OPERATOR = person("operator-codec", Role.OPERATOR, {EVERY_CLINIC})


async def bearer(pool: asyncpg.Pool, who: Identity) -> dict[str, str]:
    issued = await tokens.issue(pool, who, timedelta(days=1), "tests")
    return {"Authorization": f"Bearer {issued.token}", **NAMESPACE}


def codec_client(
    settings: Settings, pool: asyncpg.Pool, *, client: str = "127.0.0.1", host: str = "localhost"
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, pool), client=(client, 50000))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


@pytest.fixture
async def http(settings: Settings, db_pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with codec_client(settings, db_pool) as client:
        yield client


def body(*payloads: Payload) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def parse(response: httpx.Response) -> list[Payload]:
    response.raise_for_status()
    return list(json_format.Parse(response.content, Payloads()).payloads)


async def audited(pool: asyncpg.Pool, actor: str) -> list[tuple[str, dict[str, Any]]]:
    rows = await pool.fetch(
        "SELECT action, details FROM audit_log WHERE actor = $1 ORDER BY id", actor
    )
    return [(row["action"], row["details"]) for row in rows]


async def test_an_operator_round_trips_and_each_use_is_audited_without_content(
    http: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    headers = await bearer(db_pool, OPERATOR)

    encoded = parse(await http.post("/encode", json=body(PAYLOAD), headers=headers))
    decoded = parse(await http.post("/decode", json=body(*encoded, *encoded), headers=headers))

    assert encoded[0].metadata["encoding"] == ENCODING
    assert b"Jane Roe" not in encoded[0].data
    assert decoded == [PAYLOAD, PAYLOAD]
    assert await audited(db_pool, OPERATOR.actor) == [
        ("codec.encoded", {"payloads": 1, "namespace": "default"}),
        ("codec.decoded", {"payloads": 2, "namespace": "default"}),
    ]


@pytest.mark.parametrize("path", ["/decode", "/encode"])
async def test_anonymous_and_unknown_callers_get_nothing(
    http: httpx.AsyncClient, path: str
) -> None:
    anonymous = await http.post(path, json=body(PAYLOAD), headers=NAMESPACE)
    forged = await http.post(
        path, json=body(PAYLOAD), headers={"Authorization": f"Bearer trd_{'0' * 16}_{'x' * 43}"}
    )

    assert (anonymous.status_code, forged.status_code) == (401, 401)
    assert "Jane Roe" not in anonymous.text + forged.text


@pytest.mark.parametrize(
    "who",
    [
        person("nurse-codec", Role.NURSE, {EVERY_CLINIC}),  # no permission to decode
        person("operator-one-clinic", Role.OPERATOR, {"clinic-a"}),  # not every clinic's
    ],
)
async def test_a_caller_who_may_not_decode_every_clinic_is_refused(
    http: httpx.AsyncClient, db_pool: asyncpg.Pool, who: Identity
) -> None:
    response = await http.post("/decode", json=body(PAYLOAD), headers=await bearer(db_pool, who))

    assert response.status_code == 403
    assert await audited(db_pool, who.actor) == []


async def test_a_revoked_operator_is_refused(
    http: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    issued = await tokens.issue(
        db_pool, person("operator-gone", Role.OPERATOR, {EVERY_CLINIC}), timedelta(days=1), "t"
    )
    await tokens.revoke(db_pool, "tests", token_id=issued.token_id)

    response = await http.post(
        "/decode", json=body(PAYLOAD), headers={"Authorization": f"Bearer {issued.token}"}
    )

    assert response.status_code == 401


async def test_only_the_configured_hosts_are_answered(
    settings: Settings, db_pool: asyncpg.Pool
) -> None:
    # A DNS-rebinding page reaches the loopback server under its own host name.
    async with codec_client(settings, db_pool, host="attacker.example") as rebound:
        response = await rebound.post("/decode", json=body(PAYLOAD))

    assert response.status_code == 400


async def test_an_oversized_body_is_refused_unread(
    http: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    headers = await bearer(db_pool, OPERATOR)

    response = await http.post("/decode", content=b"x" * (MAX_BODY_BYTES + 1), headers=headers)

    assert response.status_code == 413


async def test_the_local_ui_is_served_from_loopback_only_and_audited(
    settings: Settings, db_pool: asyncpg.Pool
) -> None:
    local = settings.model_copy(update={"codec_local_ui": True})
    async with codec_client(local, db_pool) as on_loopback:
        served = await on_loopback.post("/decode", json=body(PAYLOAD), headers=NAMESPACE)
    async with codec_client(local, db_pool, client="10.1.2.3") as from_afar:
        refused = await from_afar.post("/decode", json=body(PAYLOAD), headers=NAMESPACE)
    production = local.model_copy(update={"environment": "production"})
    async with codec_client(production, db_pool) as in_production:
        closed = await in_production.post("/decode", json=body(PAYLOAD), headers=NAMESPACE)

    assert parse(served) == [PAYLOAD]
    assert (refused.status_code, closed.status_code) == (401, 401)
    assert ("codec.decoded", {"payloads": 1, "namespace": "default"}) in await audited(
        db_pool, "local-ui"
    )


async def test_plaintext_passes_through_in_development_only(
    settings: Settings, db_pool: asyncpg.Pool
) -> None:
    headers = await bearer(db_pool, OPERATOR)
    production = settings.model_copy(update={"environment": "production"})
    async with codec_client(production, db_pool) as strict:
        refused = await strict.post("/decode", json=body(PAYLOAD), headers=headers)
    async with codec_client(settings, db_pool) as lenient:
        passed = await lenient.post("/decode", json=body(PAYLOAD), headers=headers)

    assert refused.status_code == 422
    assert "Jane Roe" not in refused.text
    assert parse(passed) == [PAYLOAD]


async def test_ui_origin_preflight_is_allowed(http: httpx.AsyncClient, settings: Settings) -> None:
    response = await http.options(
        "/decode",
        headers={
            "Origin": settings.ui_origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == settings.ui_origin
    assert response.headers["access-control-allow-credentials"] == "true"


async def test_other_origins_are_not_allowed(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/decode",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )

    assert "access-control-allow-origin" not in response.headers


async def test_an_undecryptable_payload_is_a_client_error_naming_no_key(
    http: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    foreign = Payload(metadata={"encoding": ENCODING, "encryption-key-id": b"gone"}, data=b"x")

    response = await http.post(
        "/decode", json=body(foreign), headers=await bearer(db_pool, OPERATOR)
    )

    assert response.status_code == 422
    assert "gone" not in response.text and "dev-1" not in response.text


async def test_malformed_body_is_rejected(http: httpx.AsyncClient, db_pool: asyncpg.Pool) -> None:
    headers = await bearer(db_pool, OPERATOR)

    response = await http.post("/decode", content=b"not json", headers=headers)

    assert response.status_code == 400


async def test_healthz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
