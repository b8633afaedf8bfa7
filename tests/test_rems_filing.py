"""Filing the REMS form through a real local portal stand-in (S9): `RemsFiling` retries an
outage without holding up the course, with a routine alert at day 5 and an urgent one at day
7; a refusal alerts. The worker here talks to the portal; the other tests' use the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from cli.standins import HttpProviders
from domain.conditions import Condition
from domain.escalation import Severity
from domain.records import RemsSubmissionStatus
from tests.rems_filings import (
    attended,
    filed,
    filing,
    moved_on,
    portal_worker,
    rems_alerts,
)
from tests.sessions import InRoom, eventually, sleep_until
from worker.main import Workers

OUTAGE = 10_000
"""More 503s than the retries of a week can use."""


@pytest.fixture
async def portal(
    client: Client, db_pool: asyncpg.Pool, providers: HttpProviders
) -> AsyncIterator[Workers]:
    async with portal_worker(client, db_pool, providers) as running:
        yield running


@pytest.fixture
def room(portal: Workers, room: InRoom) -> InRoom:
    """The shared room (conftest), served by this module's worker with the portal stand-in."""
    return room


async def test_a_portal_outage_alerts_at_day_5_and_7_and_never_holds_up_the_course(
    room: InRoom, providers: HttpProviders, db_pool: asyncpg.Pool
) -> None:
    providers.answer_next(*[503] * OUTAGE)
    await attended(room)

    assert await eventually(
        lambda: moved_on(room)
    )  # the next session is booked, the form still pending
    assert (await filing(room).describe()).status is WorkflowExecutionStatus.RUNNING
    day = room.session.scheduled_at + timedelta(days=1)
    await sleep_until(room.env, day + timedelta(days=3, hours=23))
    assert await rems_alerts(room, db_pool) == {}

    await sleep_until(room.env, day + timedelta(days=4, hours=1))
    at_day_5 = await eventually(lambda: _alerts_when(room, db_pool, 1))
    await sleep_until(room.env, day + timedelta(days=6, hours=1))
    at_day_7 = await eventually(lambda: _alerts_when(room, db_pool, 2))
    providers.script.clear()  # the portal is back: the next retry, within the hour, files it
    await sleep_until(room.env, day + timedelta(days=6, hours=2))
    submission = await filed(room)

    assert at_day_5 == {Condition.REMS_FORM_DUE: Severity.ROUTINE}
    assert at_day_7 == {
        Condition.REMS_FORM_DUE: Severity.ROUTINE,
        Condition.REMS_FORM_OVERDUE: Severity.URGENT,
    }
    assert submission.status is RemsSubmissionStatus.SUBMITTED and len(providers.forms) == 1
    assert providers.requests > 10


async def test_a_refused_form_alerts(
    room: InRoom, providers: HttpProviders, db_pool: asyncpg.Pool
) -> None:
    providers.answer_next(422)

    await attended(room)
    submission = await filed(room)

    assert submission.status is RemsSubmissionStatus.FAILED
    assert await eventually(lambda: _alerts_when(room, db_pool, 1)) == {
        Condition.REMS_FORM_REFUSED: Severity.URGENT
    }
    assert providers.forms == []


async def _alerts_when(room: InRoom, pool: asyncpg.Pool, count: int) -> dict[str, str] | None:
    found = await rems_alerts(room, pool)
    return found if len(found) == count else None
