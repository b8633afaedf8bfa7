"""Acting on a session its course has not started yet: the API waits briefly for it, then
answers a clear refusal to retry, never a 404 that reads as "no such session". (The waiting
that succeeds is the live demo's: tests/test_demo.py.)"""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from tests.sessions import GATEWAY, NURSE, assess, course_in_record, path, start_course

pytestmark = pytest.mark.usefixtures("worker")


async def row_count(pool: asyncpg.Pool, course_id: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM readings WHERE course_id = $1", course_id
    )
    return count


async def test_a_session_not_started_yet_is_a_409_to_retry_and_nothing_is_stored(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    course_id = await start_course(api, "not-yet")
    await course_in_record(db_pool, course_id)
    await assess(client, course_id)
    reading = {"taken_at": "2030-01-01T09:00:00Z", "systolic": 120, "diastolic": 80}

    check_in = await api.post(path(course_id, 2, "check-in"), headers=NURSE)
    vitals = await api.post(path(course_id, 2, "vitals"), json=reading, headers=GATEWAY)

    for response in (check_in, vitals):
        assert response.status_code == 409, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json() == {
            "detail": f"session 2 of course {course_id} has not started yet: try again shortly"
        }
    assert await row_count(db_pool, course_id) == 0
