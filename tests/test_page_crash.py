"""A worker killed between an escalation's first page and its records neither loses nor repeats
the page: the page is a local activity whose effect has a key, so the worker that takes over
either replays its marker or finds the page sent, and the records follow from there."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from activities.alerts import Alerts
from cli.localstack import free_port
from cli.stack import venv_binary
from cli.standins import HttpProviders, http_providers
from domain.contract import SEARCH_ATTRIBUTES
from domain.escalation import EscalationState, escalation_workflow_id
from store import patients
from store.db import APP_ROLE
from store.escalations import PagerPage, pager_pages
from tests.activity_runs import registration, run
from tests.chaos import Process
from tests.escalations import nurse_on_call
from tests.histories.keys import TEST_KEY, TEST_KEY_ID
from tests.sessions import eventually
from tests.test_escalation_lane import escalation_row, spo2_alert
from tests.test_worker_start import STARTED, until_logged

pytestmark = pytest.mark.devserver

SLOW_POLLS = 3000
"""A fiftieth of a second apart: a minute, for a task a dead worker held to time out."""


async def test_a_worker_killed_between_the_page_and_its_records_neither_loses_nor_repeats_it(
    postgres_url: str, db_pool: asyncpg.Pool, converter: DataConverter
) -> None:
    course = registration().model_copy(update={"clinic_id": f"crash-{uuid.uuid4().hex[:8]}"})
    await patients.register(db_pool, course)
    await nurse_on_call(db_pool, course.clinic_id, f"nurse-{uuid.uuid4().hex[:8]}")
    alert = spo2_alert(course.course_id)
    escalation_id = escalation_workflow_id(alert.dedup_key)
    port = free_port()
    # Until the grant below, the worker's records of the escalation fail (and are retried).
    await db_pool.execute(f"REVOKE INSERT, UPDATE ON escalations FROM {APP_ROLE}")
    try:
        async with (
            http_providers() as providers,
            await WorkflowEnvironment.start_local(
                port=port,
                dev_server_existing_path=str(venv_binary("temporal")),
                search_attributes=SEARCH_ATTRIBUTES,
                data_converter=converter,
            ) as env,
            workers(port, postgres_url, providers) as start_worker,
        ):
            first = await start_worker()
            await run(Alerts(db_pool, env.client).raise_alert, alert)
            [page] = await eventually(lambda: pages_sent(db_pool, escalation_id))
            await first.kill()
            assert await escalation_row(db_pool, escalation_id) is None  # no record yet

            await db_pool.execute(f"GRANT INSERT, UPDATE ON escalations TO {APP_ROLE}")
            await start_worker()
            await eventually(lambda: escalation_row(db_pool, escalation_id), polls=SLOW_POLLS)
            state = await eventually(lambda: paged_on_record(env.client, escalation_id))

            assert await pager_pages(db_pool, escalation_id) == [page]
            triggers = [e for e in providers.pager_events if e["event_action"] == "trigger"]
            assert [e["dedup_key"] for e in triggers] == [page.dedup_key]
            assert [(p.attempt, p.staff_id is not None) for p in state.pages] == [(1, True)]
            await env.client.get_workflow_handle(escalation_id).terminate("test over")
    finally:
        await db_pool.execute(f"GRANT INSERT, UPDATE ON escalations TO {APP_ROLE}")


async def pages_sent(pool: asyncpg.Pool, escalation_id: str) -> list[PagerPage] | None:
    return list(await pager_pages(pool, escalation_id)) or None


async def paged_on_record(client: Client, escalation_id: str) -> EscalationState | None:
    """The escalation's state once its first page is in it (the page step recorded)."""
    handle = client.get_workflow_handle(escalation_id)
    state: EscalationState = await handle.query("details", result_type=EscalationState)
    return state if state.pages else None


@asynccontextmanager
async def workers(
    port: int, postgres_url: str, providers: HttpProviders
) -> AsyncIterator[Callable[[], Awaitable[Process]]]:
    """Starts worker processes, as the application's database role, paging the stand-in."""
    started: list[Process] = []
    with tempfile.TemporaryDirectory(prefix="trdflow-crash-") as work:
        environment = {
            **os.environ,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
            "DATABASE_URL": postgres_url,
            "TRDFLOW_DATABASE_ROLE": APP_ROLE,
            "TRDFLOW_STATE_DIR": work,
            "TRDFLOW_CODEC_KEYS": json.dumps({TEST_KEY_ID: TEST_KEY}),
            "TRDFLOW_PAGER_PROVIDER": "pagerduty",
            "PAGERDUTY_EVENTS_BASE": providers.url,
        }

        async def start() -> Process:
            log_file = Path(work) / f"worker-{len(started) + 1}.log"
            worker = Process([sys.executable, "-m", "worker.main"], environment, log_file)
            started.append(worker)
            await worker.start()
            await until_logged(log_file, STARTED)
            return worker

        try:
            yield start
        finally:
            await asyncio.gather(*(worker.kill() for worker in started))
