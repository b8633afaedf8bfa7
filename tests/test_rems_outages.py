"""S9 over random portal outages: every REMS form is filed (or its refusal alerts) within an
hour of the portal's return, a routine alert goes out exactly when the form is not in by day 5
and an urgent one exactly when it is not in by day 7, the portal holds each form once, and the
course moves on while the form waits.

Each example is a new course's first session, attended through the API to its discharge, with
the portal stand-in down for a random time after it and then accepting or refusing the form.
The example tests of the same rules are in `tests/test_rems_filing.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.room import ClinicApi
from cli.simulation import DEMO_PROTOCOL
from cli.standins import HttpProviders, http_providers
from domain.conditions import Condition
from domain.escalation import Severity
from domain.records import RemsSubmissionStatus
from domain.rems import form_id
from tests.http_api import api_client, api_settings
from tests.rems_filings import (
    attended,
    filed,
    filing,
    moved_on,
    portal_worker,
    rems_alerts,
)
from tests.sessions import InRoom, discontinue, eventually, scheduled_session, sleep_until
from worker.main import Workers
from worker.settings import Settings

DOWN = [503] * 10_000
"""More 503s than the retries of the longest outage drawn can use."""
LONGEST_OUTAGE_HOURS = 8 * 24
"""From the session: past both deadlines."""
RETRIED_WITHIN = timedelta(hours=1)
"""`workflows.rems.PORTAL_RETRY`'s longest interval: the form is in at the next attempt."""
RULES = DEMO_PROTOCOL.session
"""The demo clinic's, which the tests' courses run."""


@pytest.fixture(scope="module")
async def providers() -> AsyncIterator[HttpProviders]:
    async with http_providers() as running:
        yield running


@pytest.fixture(scope="module")
async def portal(
    client: Client, db_pool: asyncpg.Pool, providers: HttpProviders
) -> AsyncIterator[Workers]:
    async with portal_worker(client, db_pool, providers) as running:
        yield running


@pytest.fixture(scope="module")
async def gateway_api(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_settings(settings), client, db_pool) as http:
        yield http


async def answered_at(room: InRoom) -> datetime:
    """When the portal's answer (a filing or a refusal) reached the filing: the virtual time
    its submission activity completed."""
    async for event in filing(room).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            return event.event_time.ToDatetime().replace(tzinfo=UTC)
    raise AssertionError("the filing ended without the portal's answer")


# The hour after the session at which the portal is back (0: it never went down): anywhere in
# the first 8 days, and often around the day-5 and day-7 deadlines.
back_hours = st.one_of(
    st.just(0),
    st.integers(3, LONGEST_OUTAGE_HOURS),
    st.integers(RULES.rems_form_reminder_days * 24 - 2, RULES.rems_form_reminder_days * 24 + 2),
    st.integers(RULES.rems_form_due_days * 24 - 2, RULES.rems_form_due_days * 24 + 2),
)


@settings(max_examples=4, deadline=None)
@example(portal_back_hours=0, refused=False)
@example(portal_back_hours=0, refused=True)
@example(portal_back_hours=RULES.rems_form_reminder_days * 24 + 1, refused=False)
@example(portal_back_hours=RULES.rems_form_due_days * 24 + 1, refused=True)
@given(portal_back_hours=back_hours, refused=st.booleans())
async def test_every_form_is_filed_or_alerted_whatever_the_outage(
    portal: Workers,
    providers: HttpProviders,
    gateway_api: httpx.AsyncClient,
    clinic: ClinicApi,
    env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    portal_back_hours: int,
    refused: bool,
) -> None:
    room = await scheduled_session(gateway_api, clinic, env, db_pool, "rems-outage")
    answer = [422] if refused else []  # then 201s
    down = portal_back_hours > 0
    providers.script.clear()
    providers.script.extend(DOWN if down else answer)
    await attended(room)
    started = (await filing(room).describe()).start_time
    assert started is not None
    back = max(started, room.session.scheduled_at + timedelta(hours=portal_back_hours))
    if down:
        # The course books its next session while the form waits for the portal.
        assert await eventually(lambda: moved_on(room))
        await sleep_until(env, back)
        providers.script.clear()
        providers.script.extend(answer)
    await sleep_until(env, back + RETRIED_WITHIN + timedelta(minutes=1))
    submission = await filed(room)
    answered = await answered_at(room)
    alerts = await rems_alerts(room, db_pool)
    at_portal = [f for f in providers.forms if f["form_id"] == form_id(room.course_id, 1)]
    await discontinue(env.client, room.course_id)

    assert answered <= back + RETRIED_WITHIN
    day = room.session.scheduled_at
    expected = {
        **(
            {Condition.REMS_FORM_DUE: Severity.ROUTINE}
            if answered > day + timedelta(days=RULES.rems_form_reminder_days)
            else {}
        ),
        **(
            {Condition.REMS_FORM_OVERDUE: Severity.URGENT}
            if answered > day + timedelta(days=RULES.rems_form_due_days)
            else {}
        ),
        **({Condition.REMS_FORM_REFUSED: Severity.URGENT} if refused else {}),
    }
    assert alerts == expected
    if refused:
        assert (submission.status, at_portal) == (RemsSubmissionStatus.FAILED, [])
    else:
        assert submission.status is RemsSubmissionStatus.SUBMITTED and len(at_portal) == 1
