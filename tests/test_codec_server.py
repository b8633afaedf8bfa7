"""The remote codec endpoint the Temporal Web UI calls from the browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from worker.codec import ENCODING
from worker.codec_server import create_app
from worker.settings import Settings

PAYLOAD = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name": "Jane Roe"}')


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
        yield client


def body(*payloads: Payload) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def parse(response: httpx.Response) -> list[Payload]:
    response.raise_for_status()
    return list(json_format.Parse(response.content, Payloads()).payloads)


async def test_encode_then_decode_round_trips(http: httpx.AsyncClient) -> None:
    headers = {"X-Namespace": "default"}
    encoded = parse(await http.post("/encode", json=body(PAYLOAD), headers=headers))
    decoded = parse(await http.post("/decode", json=body(*encoded), headers=headers))

    assert encoded[0].metadata["encoding"] == ENCODING
    assert b"Jane Roe" not in encoded[0].data
    assert decoded == [PAYLOAD]


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


async def test_undecryptable_payload_is_a_client_error(http: httpx.AsyncClient) -> None:
    foreign = Payload(metadata={"encoding": ENCODING, "encryption-key-id": b"gone"}, data=b"x")

    response = await http.post("/decode", json=body(foreign))

    assert response.status_code == 422
    assert "unknown encryption key id 'gone'" in response.json()["detail"]


async def test_malformed_body_is_rejected(http: httpx.AsyncClient) -> None:
    response = await http.post("/decode", content=b"not json")

    assert response.status_code == 400


async def test_healthz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
