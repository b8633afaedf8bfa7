"""Filing the REMS form through a real local portal stand-in (S9): `RemsFiling` retries an
outage without holding up the course, with a routine alert at day 5 and an urgent one at day
7; a refusal alerts. The worker here talks to the portal; the other tests' use the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from activities.adapters.factory import adapters_from
from cli.handles import rems_filing_handle
from cli.standins import PORTAL_PATH, PORTAL_TOKEN, HttpProviders
from domain.conditions import Condition
from domain.contract import rems_filing_workflow_id
from domain.escalation import Severity
from domain.records import RemsSubmission, RemsSubmissionStatus
from domain.session import SessionOutcome
from tests.sessions import (
    InRoom,
    course_status,
    eventually,
    skip_to_check_in,
    sleep_until,
)
from worker.main import Workers, build_worker
from worker.settings import Settings
from workflows.rems import RemsFiling

OUTAGE = 10_000
"""More 503s than the retries of a week can use."""


@pytest.fixture
async def portal_worker(
    client: Client, db_pool: asyncpg.Pool, providers: HttpProviders
) -> AsyncIterator[Workers]:
    settings = Settings(
        rems_provider="portal",
        rems_portal_url=f"{providers.url}{PORTAL_PATH}",
        rems_portal_token=SecretStr(PORTAL_TOKEN),
    )
    async with build_worker(client, db_pool, adapters_from(settings, db_pool)) as running:
        yield running


@pytest.fixture
def room(portal_worker: Workers, room: InRoom) -> InRoom:
    """The shared room (conftest), served by this module's worker with the portal stand-in."""
    return room


async def attended(room: InRoom) -> None:
    await room.arrange_ride(confirm=True)
    await skip_to_check_in(room.env, room.session)
    course = await course_status(room.env.client, room.course_id)
    summary = await room.player.attend(room.course_id, room.session, course.clock, dose_mg=56)
    assert summary.outcome is SessionOutcome.ATTENDED


async def rems_alerts(room: InRoom, pool: asyncpg.Pool) -> dict[str, str]:
    rows = await pool.fetch(
        "SELECT condition, severity FROM alerts WHERE course_id = $1 AND starts_with(condition,"
        " 'rems_')",
        room.course_id,
    )
    return {row["condition"]: row["severity"] for row in rows}


def filing(room: InRoom) -> WorkflowHandle[RemsFiling, RemsSubmission]:
    workflow_id = rems_filing_workflow_id(room.course_id, room.session.number)
    return rems_filing_handle(room.env.client, workflow_id)


async def test_a_portal_outage_alerts_at_day_5_and_7_and_never_holds_up_the_course(
    room: InRoom, providers: HttpProviders, db_pool: asyncpg.Pool
) -> None:
    providers.answer_next(*[503] * OUTAGE)
    await attended(room)

    async def moved_on() -> bool | None:
        status = await course_status(room.env.client, room.course_id)
        return True if status.sessions_done == 1 and status.current_session else None

    assert await eventually(moved_on)  # the next session is booked, the form still pending
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


async def filed(room: InRoom) -> RemsSubmission:
    """The filing's result once it has ended. (Waiting on it with the virtual clock running
    would race its retries: the time-skipping server does not skip while one is due.)"""

    async def ended() -> bool | None:
        status = (await filing(room).describe()).status
        return True if status is not WorkflowExecutionStatus.RUNNING else None

    await eventually(ended)
    return await filing(room).result()
