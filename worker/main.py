"""The worker process: every workflow and activity of trdflow on the `trd-courses` queue."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker, WorkerTuner

from activities.adapters.factory import Adapters, adapters_from, local_adapters
from activities.alerts import Alerts
from activities.dosing import SessionRecords
from activities.notifications import ClinicNotifier
from activities.paging import EscalationRecords, Paging
from activities.patients import PatientRegistry
from activities.reminders import Reminders
from activities.rems import RemsForms
from activities.rems_filings import RemsFilings
from activities.transport import TransportRequests
from activities.vitals import VitalsRecords
from domain.contract import ESCALATION_TASK_QUEUE, TASK_QUEUE
from domain.notices import Channel
from store.db import create_pool
from worker.client import connect, exit_process
from worker.fleet import WorkerHealth, health_endpoint, sdk_metrics, worker_identity
from worker.logs import LogContext, bind_process, configure_logging
from worker.production import check_production
from worker.runner import GuardedRunner
from worker.settings import Settings, get_settings
from worker.tracing import configure_tracing
from workflows.course import TreatmentCourse
from workflows.escalation import Escalation
from workflows.rems import RemsFiling
from workflows.session import DosingSession

log = structlog.get_logger()

WORKFLOWS = (TreatmentCourse, DosingSession, Escalation, RemsFiling)
T = TypeVar("T")
CONNECT_FIRST_DELAY_SECONDS = 0.5
CONNECT_MAX_DELAY_SECONDS = 10.0
LOG_CONTEXT = LogContext()
ESCALATION_SLOTS = 50
"""Escalation tasks at once per worker process: far above the open escalations of a clinic."""


def activities(
    client: Client, pool: asyncpg.Pool, adapters: Adapters | None = None
) -> Sequence[Any]:
    """Every activity. Without `adapters`, the local outbox defaults: nothing leaves the machine."""
    adapters = adapters or local_adapters(pool)
    records = SessionRecords(pool)
    return [
        ClinicNotifier(pool).notify_clinic,
        PatientRegistry(pool).register_patient,
        Reminders(pool, adapters.senders).send_reminder,
        TransportRequests(pool, adapters.senders[Channel.SMS]).request_transport_confirmation,
        VitalsRecords(pool).record_judgement,
        records.record_dose,
        records.record_session_event,
        RemsForms(pool, adapters.rems_portal).submit_rems_form,
        RemsFilings(client).start_rems_filing,
        Alerts(pool, client).raise_alert,
        *escalation_activities(pool, adapters),
    ]


def escalation_activities(pool: asyncpg.Pool, adapters: Adapters) -> Sequence[Any]:
    """What an Escalation runs: the page first, then its records and the pager's updates."""
    paging = Paging(pool, adapters.pager, adapters.senders[Channel.SMS])
    return [paging.page_on_call, paging.update_pager, EscalationRecords(pool).record_escalation]


class Workers:
    """The worker's lanes, run together: `async with` starts them all and stops them all."""

    def __init__(self, *lanes: Worker) -> None:
        self.lanes = lanes
        self._running = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Workers:
        try:
            for lane in self.lanes:
                await self._running.enter_async_context(lane)
        except BaseException:
            await self._running.aclose()  # a lane that failed to start stops those started
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        # All lanes stop taking tasks at once and share the grace period, rather than in turn.
        await asyncio.gather(*(lane.shutdown() for lane in self.lanes))
        await self._running.aclose()


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    adapters: Adapters | None = None,
    *,
    cache_size: int = 1000,
    identity: str | None = None,
    shutdown_grace: timedelta = timedelta(0),
) -> Workers:
    """The courses' lane (every workflow and activity: escalations opened before the
    escalations' lane existed finish there) and the escalations' lane, with slots of its own."""
    adapters = adapters or local_adapters(pool)
    courses = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=list(WORKFLOWS),
        activities=activities(client, pool, adapters),
        max_cached_workflows=cache_size,
        workflow_runner=GuardedRunner(client.data_converter),
        interceptors=[LOG_CONTEXT],
        identity=identity,
        graceful_shutdown_timeout=shutdown_grace,
    )
    escalations = escalations_lane(
        client,
        pool,
        adapters,
        cache_size=cache_size,
        identity=identity,
        shutdown_grace=shutdown_grace,
    )
    return Workers(courses, escalations)


def escalations_lane(
    client: Client,
    pool: asyncpg.Pool,
    adapters: Adapters | None = None,
    *,
    cache_size: int = 1000,
    identity: str | None = None,
    shutdown_grace: timedelta = timedelta(0),
) -> Worker:
    """Escalations and their pages, on a task queue and slots of their own: a fixed number,
    so that an eager start (the alert's) always finds one free, whatever the courses do."""
    return Worker(
        client,
        task_queue=ESCALATION_TASK_QUEUE,
        workflows=[Escalation],
        activities=escalation_activities(pool, adapters or local_adapters(pool)),
        max_cached_workflows=cache_size,
        workflow_runner=GuardedRunner(client.data_converter),
        interceptors=[LOG_CONTEXT],
        tuner=WorkerTuner.create_fixed(
            workflow_slots=ESCALATION_SLOTS,
            activity_slots=ESCALATION_SLOTS,
            local_activity_slots=ESCALATION_SLOTS,
        ),
        identity=identity,
        graceful_shutdown_timeout=shutdown_grace,
    )


async def when_up(what: str, attempt: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
    """`attempt` until it succeeds, waiting out a server that is down or restarting (a worker
    started meanwhile must not exit for good); None if asked to stop first."""
    delay = CONNECT_FIRST_DELAY_SECONDS
    while not stop.is_set():
        try:
            return await attempt()
        # The SDK's "failed client connect"; asyncpg's refused or timed-out connection.
        except (RuntimeError, OSError, TimeoutError, asyncpg.PostgresError) as err:
            log.warning(
                "server_unreachable_retrying",
                server=what,
                retry_in_seconds=delay,
                error=str(err).splitlines()[0] if str(err) else type(err).__name__,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, CONNECT_MAX_DELAY_SECONDS)
    return None


async def serve(settings: Settings) -> None:
    if settings.database_url is None:
        raise SystemExit("DATABASE_URL is not set (`make run` sets it for the local stack)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    health = WorkerHealth(worker_identity(settings))
    # Before the client: the runtime is chosen as it connects.
    sdk_metrics(settings, health.identity)
    # Every log line of this process names the worker, as its tasks' history events do.
    bind_process(worker=health.identity)
    async with health_endpoint(settings, health):
        await _serve(settings, stop, health)


async def _serve(settings: Settings, stop: asyncio.Event, health: WorkerHealth) -> None:
    assert settings.database_url is not None
    database_url = settings.database_url
    client = await when_up("temporal", lambda: connect(settings), stop)
    pool = await when_up(
        "postgres", lambda: create_pool(database_url, settings.database_role), stop
    )
    if client is None or pool is None:
        return
    try:
        grace = timedelta(seconds=settings.worker_shutdown_grace_seconds)
        worker = build_worker(
            client,
            pool,
            adapters_from(settings, pool),
            cache_size=settings.worker_cache_size,
            identity=health.identity,
            shutdown_grace=grace,
        )
        async with worker:
            health.client, health.lanes = client, worker.lanes
            log.info(
                "worker_started",
                task_queues=[TASK_QUEUE, ESCALATION_TASK_QUEUE],
                address=client.service_client.config.target_host,
                namespace=client.namespace,
            )
            await stop.wait()
            health.stopping = True
            log.info(
                "worker_stopping_tasks_finishing",
                grace_seconds=grace.total_seconds(),
            )
        log.info("worker_stopped")
    finally:
        await pool.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    configure_tracing(settings, "trdflow-worker")
    check_production(settings)
    asyncio.run(serve(settings))
    exit_process(0)  # never a crash at exit: see exit_process


if __name__ == "__main__":
    main()
