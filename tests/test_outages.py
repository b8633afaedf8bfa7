"""Outages answer honestly, and a staff action goes with its audit entry.

PostgreSQL or Temporal down: every request that needs it gets a JSON 503 naming it, with
`Retry-After`, and `/readyz` says which part is down. A staff action's audit intent is written
before its Update is sent and its outcome after; a retry (same request, or same
`Idempotency-Key`) finds the attempt, is applied once and answers with the first result.
All against real parts: an embedded PostgreSQL that is stopped, a Temporal test server that is
shut down, and the module's own time-skipping server and worker.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RetryConfig
from temporalio.testing import WorkflowEnvironment

from cli.room import ClinicApi
from cli.stack import venv_binary
from domain.session_core import SessionState
from store.db import create_pool
from store.embedded import EmbeddedPostgres, start_postgres
from store.migrate import migrate
from tests.audit_rows import attempts, request_keys
from tests.http_api import api_client, api_settings, install_test_tokens, token_of
from tests.sessions import (
    GATEWAY,
    NURSE,
    InRoom,
    assess,
    course_for,
    course_status,
    discontinue,
    first_session,
    path,
    scheduled_session,
    skip_to_check_in,
    start_course,
)
from worker.settings import Settings

pytestmark = pytest.mark.usefixtures("worker")

RETRY_AFTER = "5"
POSTGRES_DOWN = "postgres is unavailable: try again in 5 s"
TEMPORAL_DOWN = "temporal is unavailable: try again in 5 s"
READING = {"taken_at": "2030-01-01T09:00:00Z", "systolic": 120, "diastolic": 80}
SCORE = {"scale": "phq9", "total": 12, "item9": 0}


def assert_unavailable(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == RETRY_AFTER
    assert response.json() == {"detail": detail}


@pytest.fixture(scope="module")
async def temporal_down(converter: DataConverter) -> Client:
    """A client of a Temporal server that has since shut down."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter,
        test_server_existing_path=str(venv_binary("temporal-test-server")),
    )
    try:
        # Few retries (the default retries for 10 s): each request meets the outage at once.
        return await Client.connect(
            env.client.service_client.config.target_host,
            data_converter=converter,
            retry_config=RetryConfig(max_retries=1, max_elapsed_time_millis=1000),
        )
    finally:
        await env.shutdown()


@asynccontextmanager
async def own_postgres(data_dir: Path) -> AsyncIterator[tuple[EmbeddedPostgres, asyncpg.Pool]]:
    """A migrated PostgreSQL of this test's own (so that it can stop it), and a pool of it."""
    postgres = await start_postgres(data_dir)
    try:
        pool = await create_pool(postgres.url)
        try:
            await migrate(pool)
            await install_test_tokens(pool)
            yield postgres, pool
        finally:
            await pool.close()
    finally:
        if (data_dir / "postmaster.pid").exists():  # a test that failed may have left it down
            await postgres.stop()


async def test_postgres_down_is_a_json_503_naming_it_and_readiness_says_so(
    api: httpx.AsyncClient,
    settings: Settings,
    client: Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A running session on the live parts, so that every request gets as far as the database.
    course_id = await start_course(api, "pg-down")
    await assess(client, course_id)
    await first_session(client, course_id)
    data_dir = tmp_path_factory.mktemp("pg-down") / "data"
    async with (
        own_postgres(data_dir) as (postgres, pool),
        api_client(api_settings(settings), client, pool) as cut_off,
    ):
        signed_in = await cut_off.post("/console/sign-in", data={"token": token_of("nurse-test")})
        assert signed_in.status_code == 303
        await postgres.stop()

        ready = await cut_off.get("/readyz")
        console_list = await cut_off.get("/console/escalations")
        vitals = await cut_off.post(path(course_id, 1, "vitals"), json=READING, headers=GATEWAY)
        check_in = await cut_off.post(path(course_id, 1, "check-in"), headers=NURSE)
        ride = {"driver_name": "Sam Driver", "driver_phone": "+15550100777"}
        transport = await cut_off.put(path(course_id, 1, "transport"), json=ride, headers=NURSE)
        score = await cut_off.post(f"/v1/courses/{course_id}/scores", json=SCORE, headers=NURSE)

        await start_postgres(data_dir)  # back: the pool reconnects by itself
        ready_again = await cut_off.get("/readyz")

    assert ready.status_code == 503
    assert ready.headers["retry-after"] == RETRY_AFTER
    assert ready.json() == {"detail": "postgres is down", "postgres": "down", "temporal": "up"}
    for response in (console_list, vitals, check_in, transport, score):
        assert_unavailable(response, POSTGRES_DOWN)
    assert ready_again.status_code == 200
    assert ready_again.json() == {"detail": "ready", "postgres": "up", "temporal": "up"}
    await discontinue(client, course_id)


@pytest.fixture
async def cut_off(
    settings: Settings, temporal_down: Client, db_pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with the live PostgreSQL and a Temporal that has gone."""
    async with api_client(api_settings(settings), temporal_down, db_pool) as http:
        yield http


@pytest.fixture
async def room(
    api: httpx.AsyncClient,
    clinic: ClinicApi,
    env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
) -> AsyncIterator[InRoom]:
    """A new course's first session, open for check-in; its course is ended afterwards."""
    room = await scheduled_session(api, clinic, env, db_pool, "outage-room")
    await skip_to_check_in(env, room.session)
    yield room
    await discontinue(env.client, room.course_id)


async def test_temporal_down_is_a_json_503_naming_it_and_readiness_says_so(
    api: httpx.AsyncClient, cut_off: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    course_id = await start_course(api, "temporal-down")
    another = course_for(f"temporal-down-{secrets.token_hex(4)}").model_dump(mode="json")
    readings = await db_pool.fetchval("SELECT count(*) FROM readings")

    ready = await cut_off.get("/readyz")
    course = await cut_off.get(f"/v1/courses/{course_id}", headers=NURSE)
    start = await cut_off.post("/v1/courses", json=another, headers=GATEWAY)
    vitals = await cut_off.post(path(course_id, 1, "vitals"), json=READING, headers=GATEWAY)
    check_in = await cut_off.post(path(course_id, 1, "check-in"), headers=NURSE)
    score = await cut_off.post(f"/v1/courses/{course_id}/scores", json=SCORE, headers=GATEWAY)

    assert ready.status_code == 503
    assert ready.headers["retry-after"] == RETRY_AFTER
    assert ready.json() == {"detail": "temporal is down", "postgres": "up", "temporal": "down"}
    for response in (course, start, vitals, check_in, score):
        assert_unavailable(response, TEMPORAL_DOWN)
    assert await db_pool.fetchval("SELECT count(*) FROM readings") == readings
    assert (await api.get("/readyz")).status_code == 200
    await discontinue(client, course_id)


async def test_a_staff_score_whose_update_failed_after_its_intent_is_recorded_once_on_retry(
    api: httpx.AsyncClient, cut_off: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    course_id = await start_course(api, "score-retry")
    await assess(client, course_id)
    url = f"/v1/courses/{course_id}/scores"
    key = {**NURSE, "Idempotency-Key": secrets.token_hex(16)}

    failed = await cut_off.post(url, json=SCORE, headers=key)
    pending = await attempts(db_pool, course_id)
    # Each Update only once the course is idle (read): the test server loses one racing a task.
    await course_status(client, course_id)
    retried = await api.post(url, json=SCORE, headers=key)
    await course_status(client, course_id)
    again = await api.post(url, json=SCORE, headers=key)

    assert_unavailable(failed, TEMPORAL_DOWN)
    # The intent was durable before the Update was sent; its outcome is unknown until a retry.
    assert pending == [("course.score_recorded", 1, "intent")]
    assert (retried.status_code, again.status_code) == (204, 204)
    assert await attempts(db_pool, course_id) == [
        ("course.score_recorded", 1, "intent"),
        ("course.score_recorded", 1, "done"),
    ]
    await discontinue(client, course_id)


async def test_a_check_in_retried_after_a_temporal_outage_is_done_once(
    room: InRoom, cut_off: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    failed = await cut_off.post(path(room.course_id, room.session, "check-in"), headers=NURSE)
    retried = await room.send("check-in")
    # Without a key, the same request once the first has its outcome is a new check-in.
    again = await room.send("check-in")

    assert_unavailable(failed, TEMPORAL_DOWN)
    assert retried.status_code == 200, retried.text
    assert SessionState.model_validate(retried.json()).checked_in_by == "nurse-test"
    assert again.status_code == 409
    assert await attempts(db_pool, room.course_id) == [
        ("session.checked_in", 1, "intent"),
        ("session.checked_in", 1, "done"),
        ("session.checked_in", 2, "intent"),
        ("session.checked_in", 2, "refused"),
    ]


async def test_a_check_in_sent_again_with_its_idempotency_key_answers_its_first_result(
    room: InRoom, cut_off: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    key = {**NURSE, "Idempotency-Key": secrets.token_hex(16)}

    failed = await cut_off.post(path(room.course_id, room.session, "check-in"), headers=key)
    first = await room.send("check-in", headers=key)
    reading = await room.vitals(NURSE, systolic=128, diastolic=82)
    moved_on = await room.until_judged(reading)
    replayed = await room.send("check-in", headers=key)
    other_key = await room.send(
        "check-in", headers={**NURSE, "Idempotency-Key": secrets.token_hex(16)}
    )

    assert_unavailable(failed, TEMPORAL_DOWN)
    assert first.status_code == 200, first.text
    assert first.json()["stage"] == "pre_dose_vitals" and first.json()["readings"] == []
    assert [r.reading_id for r in moved_on.readings] == [reading]
    # The first result, not the session's state now, and not a 409: it was not applied again.
    assert (replayed.status_code, replayed.json()) == (200, first.json())
    assert other_key.status_code == 409  # another key is another check-in
    assert await attempts(db_pool, room.course_id) == [
        ("session.checked_in", 1, "intent"),
        ("session.checked_in", 1, "done"),
        ("session.checked_in", 1, "intent"),
        ("session.checked_in", 1, "refused"),
    ]
    assert await request_keys(db_pool, room.course_id) == 2
