"""A worker that stops with runs in its cache leaves their coroutines to the garbage collector
(sdk-core evicts no idle run at shutdown), which closes each with GeneratorExit where it waits.
A run must let that exit through and await nothing more: a coroutine that awaits while it is
closed fails to close ("coroutine ignored GeneratorExit", reported unraisable when the collector
does it), and work it starts then can land on another workflow's event loop
(temporalio/sdk-python#494)."""

from __future__ import annotations

import gc
from types import CoroutineType
from typing import Any

import asyncpg
import httpx
from temporalio.testing import WorkflowEnvironment

from cli.localstack import quiet
from tests.sessions import assess_ahead, first_session, start_course
from worker.main import build_worker


def sessions_running(course_id: str) -> list[CoroutineType[Any, Any, Any]]:
    """The course's `DosingSession._run_session` coroutines alive in this process (other
    modules' may be too, until the collector comes)."""
    return [
        o
        for o in gc.get_objects()
        # type(), not isinstance(): the sandboxes' restricted proxies refuse `__class__`.
        if type(o) is CoroutineType
        and o.__qualname__ == "DosingSession._run_session"
        and o.cr_frame is not None  # None once it has ended
        and o.cr_frame.f_locals["self"]._input.course_id == course_id
    ]


async def test_a_session_waiting_for_its_patient_closes_cleanly_once_its_worker_stops(
    api: httpx.AsyncClient, env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> None:
    async with build_worker(env.client, db_pool):
        course_id = await start_course(api, "shutdown")
        await assess_ahead(env, course_id)
        session = await first_session(env.client, course_id)
        # Waiting for check-in, its reminders waiting beside it.
        await quiet(env.client, session.workflow_id)
        # Held, so that this test closes them rather than the collector, at a time of its own.
        waiting = sessions_running(course_id)

    assert len(waiting) == 1
    # What the collector does with a dropped run: raises if the coroutine awaits on its way out.
    waiting[0].close()
