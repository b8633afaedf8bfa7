"""A query must not run a workflow ahead of its workflow task (`worker.runner.CatchUpGuard`).

sdk-core answers a query on a run that is missing from the worker's cache by fetching the run's
whole history. It applies the events at its end that no workflow task has started yet, on the
clock of the task before. Tickers that record `workflow.now()` in every activity they schedule run
here on the dev server, while queries hammer them and a one-run cache keeps evicting them. Without
the guard, some decisions carry a clock from before their own task started (2 or 3 in 100 in a
measured run), and a course's history can stop replaying. With it, none do, no workflow task
fails, and the race has been met: some queries were refused and asked again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from cli.stack import venv_binary
    from worker.runner import AHEAD_OF_TASK, GuardedRunner

TICKERS = 3
TICKS = 10
TICK = timedelta(milliseconds=300)
ROUNDS = 5
"""Rounds of tickers, until the race has been met at least once (a few times a round)."""


@activity.defn
async def clock_seen(now: datetime) -> None:
    """Nothing to do: the clock the workflow saw is kept in the activity's input, in history."""


@workflow.defn
class Ticker:
    @workflow.run
    async def run(self, ticks: int) -> None:
        for _ in range(ticks):
            await workflow.sleep(TICK)
            await workflow.execute_activity(
                clock_seen, workflow.now(), start_to_close_timeout=timedelta(seconds=30)
            )

    @workflow.query
    def alive(self) -> bool:
        return True


@pytest.fixture(scope="module")
async def dev_client() -> AsyncIterator[Client]:
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_binary("temporal"))
    ) as env:
        yield env.client


async def hammer(
    handles: list[WorkflowHandle[Ticker, None]], done: asyncio.Future[list[None]]
) -> int:
    """Query every ticker until they are done; the number of queries refused."""
    refused = 0
    while not done.done():
        for handle in handles:
            try:
                await handle.query(Ticker.alive)
            except WorkflowQueryFailedError as err:
                assert err.message == AHEAD_OF_TASK
                refused += 1
    return refused


async def clock_faults(client: Client, handle: WorkflowHandle[Ticker, None]) -> list[str]:
    """Decisions taken on a clock earlier than their task's start, and failed workflow tasks."""
    events = {event.event_id: event async for event in handle.fetch_history_events()}
    converter = client.data_converter.payload_converter
    faults = []
    for event in events.values():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            faults.append(f"{handle.id}: workflow task {event.event_id} failed")
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        scheduled = event.activity_task_scheduled_event_attributes
        seen = converter.from_payload(scheduled.input.payloads[0], datetime)
        completed = events[scheduled.workflow_task_completed_event_id]
        started = events[completed.workflow_task_completed_event_attributes.started_event_id]
        task_start = started.event_time.ToDatetime().replace(tzinfo=seen.tzinfo)
        if seen < task_start - timedelta(milliseconds=1):
            faults.append(f"{handle.id}: event {event.event_id} saw {seen}, task at {task_start}")
    return faults


async def test_a_query_never_runs_a_workflow_ahead_of_its_task(dev_client: Client) -> None:
    queue = f"catch-up-{uuid.uuid4()}"
    refused = 0
    async with Worker(
        dev_client,
        task_queue=queue,
        workflows=[Ticker],
        activities=[clock_seen],
        max_cached_workflows=1,
        workflow_runner=GuardedRunner(dev_client.data_converter),
    ):
        for round_number in range(ROUNDS):
            handles = [
                await dev_client.start_workflow(
                    Ticker.run, TICKS, id=f"{queue}-{round_number}-{n}", task_queue=queue
                )
                for n in range(TICKERS)
            ]
            done = asyncio.ensure_future(asyncio.gather(*(h.result() for h in handles)))
            refused += await hammer(handles, done)
            await done
            for handle in handles:
                assert await clock_faults(dev_client, handle) == []
            if refused:
                break
    assert refused > 0, f"no query met the race in {ROUNDS} rounds: the test proved nothing"
