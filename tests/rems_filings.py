"""A session's REMS filing as the tests drive and read it: the worker that files through the
portal stand-in, the session attended to its discharge, and what the filing raised and ended
with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from activities.adapters.factory import adapters_from
from cli.handles import rems_filing_handle
from cli.standins import PORTAL_PATH, PORTAL_TOKEN, HttpProviders
from domain.contract import rems_filing_workflow_id
from domain.records import RemsSubmission
from domain.session import SessionOutcome
from tests.sessions import InRoom, course_status, eventually, skip_to_check_in
from worker.main import Workers, build_worker
from worker.settings import Settings
from workflows.rems import RemsFiling


@asynccontextmanager
async def portal_worker(
    client: Client, pool: asyncpg.Pool, providers: HttpProviders
) -> AsyncIterator[Workers]:
    """The project's worker, filing REMS forms with the portal stand-in."""
    settings = Settings(
        rems_provider="portal",
        rems_portal_url=f"{providers.url}{PORTAL_PATH}",
        rems_portal_token=SecretStr(PORTAL_TOKEN),
    )
    async with build_worker(client, pool, adapters_from(settings, pool)) as running:
        yield running


async def attended(room: InRoom) -> None:
    """The session, attended to its discharge: its filing starts then."""
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


async def moved_on(room: InRoom) -> bool | None:
    """Whether the course has booked its next session."""
    status = await course_status(room.env.client, room.course_id)
    return True if status.sessions_done == 1 and status.current_session else None


async def filed(room: InRoom) -> RemsSubmission:
    """The filing's result once it has ended. (Waiting on it with the virtual clock running
    would race its retries: the time-skipping server does not skip while one is due.)"""

    async def ended() -> bool | None:
        status = (await filing(room).describe()).status
        return True if status is not WorkflowExecutionStatus.RUNNING else None

    await eventually(ended)
    return await filing(room).result()
