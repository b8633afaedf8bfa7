"""What a request may carry: it is signed in before its body is read, bodies are bounded, and
strings with NUL or other control characters are refused at the edge with nothing written."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.limits import MAX_BODY_BYTES
from cli.simulation import DEMO_CLINIC
from store.patients import claim_course
from tests.http_api import api_client, api_settings, bearer
from tests.sessions import NURSE, path
from worker.settings import Settings

COURSE = "c-inputs"


@pytest.fixture(autouse=True)
async def known_course(db_pool: asyncpg.Pool) -> None:
    await claim_course(db_pool, COURSE, DEMO_CLINIC)


async def ride_rows(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM transport_arrangements WHERE course_id = $1", COURSE
    )
    return count


async def test_a_request_without_a_token_is_refused_before_its_body_is_read(
    api: httpx.AsyncClient,
) -> None:
    malformed = await api.post("/v1/courses", content=b"{not json", headers={})

    assert malformed.status_code == 401


async def test_an_oversized_body_is_refused_declared_or_streamed(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    big = b'{"driver_name": "' + b"x" * MAX_BODY_BYTES + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    url, headers = path(COURSE, 1, "transport"), {**NURSE, "Content-Type": "application/json"}
    declared = await api.put(url, content=big, headers=headers)
    streamed = await api.put(url, content=chunks(), headers=headers)

    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert await ride_rows(db_pool) == 0


@pytest.mark.parametrize("bad", ["Sam\x00Driver", "Sam\x1bDriver", "Sam\x7fDriver"])
async def test_control_characters_are_refused_and_nothing_is_written(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, bad: str
) -> None:
    body = {"driver_name": bad, "driver_phone": "+15550100777"}

    response = await api.put(path(COURSE, 1, "transport"), json=body, headers=NURSE)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "driver_name"]
    assert await ride_rows(db_pool) == 0


async def test_a_control_character_in_a_form_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post("/console/sign-in", data={"token": "trd_\x00"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "token"]


async def test_tabs_and_newlines_are_text(api: httpx.AsyncClient) -> None:
    note = {"proceed": True, "note": "BP fine on repeat.\n\tSeen by Dr A."}

    response = await api.post(path(COURSE, 1, "hold-decision"), json=note, headers=NURSE)

    # Past the limits: the session (not started) answers, not the edge.
    assert response.status_code != 422, response.text


async def test_the_api_documents_need_a_token_in_production(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> None:
    production = api_settings(settings).model_copy(update={"environment": "production"})
    async with api_client(production, client, db_pool) as http:
        anonymous = [(await http.get(url)).status_code for url in ("/openapi.json", "/docs")]
        signed_in = await http.get("/openapi.json", headers=bearer("nurse-test"))
    async with api_client(api_settings(settings), client, db_pool) as http:
        in_development = await http.get("/openapi.json")

    assert anonymous == [401, 401]
    assert signed_in.status_code == 200
    assert in_development.status_code == 200
