"""The fault run behind `make chaos`: the demo's players drive courses through the local stack's
parts, each a separate process that can be killed, and then every count that must be zero is
counted.

- worker crashes: a worker process (one of `--workers`) is SIGKILLed at random moments and
  started again; with `--lose-workers`, some are SIGKILLed for good once half the sessions are
  done, and the rest of the fleet carries their work;
- a database outage: PostgreSQL is stopped for a while, then started again;
- server crashes: the Temporal dev server is SIGKILLed and started again on its database;
- bad messages: malformed and out-of-turn Updates and signals sent straight to Temporal;
- afterwards: every history of the run is replayed under the current code, workflows still
  running are stuck, courses not at their persona's end lost something, API answers of 500 or
  502 (an outage must be a 503) and staff actions whose outcome was never audited are counted.

`python -m tests.chaos --courses 20 --kills 7` (what `make chaos` runs; `--workers 3` for a
fleet) prints the table and exits 1 on any non-zero count; `tests/test_chaos.py` and
`tests/test_fleet.py` run bounded subsets in `make test`.
With `--record`, the histories that span a worker restart join the stored ones that
`tests/test_replay.py` replays (`tests/histories/crashes/`). The stack uses the fixed test key.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.service import RPCError
from temporalio.worker import Replayer

from api.app import create_app
from cli.demo import DAY_IN_A_SECOND, DemoCourse, Outcome, demo_courses, play_demo
from cli.devtokens import issue_dev_tokens
from cli.localstack import free_port, served
from cli.oncall import seed_demo
from cli.simulation import DEMO_CLINIC, DEMO_PROTOCOL
from cli.stack import search_attribute_flags, venv_binary
from domain.contract import course_workflow_id
from domain.course import Phase
from domain.session import SessionOutcome, SessionSummary
from store import protocols
from store.db import APP_ROLE, create_pool
from store.embedded import EmbeddedPostgres, start_postgres
from store.migrate import migrate
from tests.histories.files import history_file
from tests.histories.keys import TEST_KEY, TEST_KEY_ID, settings_with_test_key
from worker.client import connect
from worker.converter import data_converter
from worker.main import WORKFLOWS
from worker.runner import REFUSED
from worker.settings import Settings

PERSONAS = ("non_responder", "desaturates")
"""Courses that end at the induction review: the shortest whole courses on the demo's clock."""
SETTLE_SECONDS = 120
"""How long every workflow gets to close once the players are done, before it counts as stuck."""
BAD_UPDATES = ("submit_assessment", "record_score", "decide_review", "pause", "discontinue")
BAD_SIGNALS = ("escalation_changed", "session_moved")
WORKER_CACHE_SIZE = 2
STARTUP_POLLS = 240
"""Tries, half a second apart, for a course to start or a restarted server to answer."""
HALFWAY_POLLS = 1200
"""Half a second apart: sessions that never get halfway lose their workers after 10 minutes."""
STARTED_TASK = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
STARTED_ACTIVITY = EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
RECORDED_CRASHES = "crashes"
FAILED_TASK = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
SERVER_RETRIES = frozenset(
    {
        # A message arrived as the task closed the run, or the sticky worker was gone: the
        # server fails the task itself and hands it out again, with the message.
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_UPDATE,
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
    }
)


@dataclass
class Counts:
    """What a fault run found; every figure but the first three must be zero."""

    courses: int = 0
    workers: int = 0
    worker_kills: int = 0
    workers_lost: int = 0
    """Workers SIGKILLed for good, halfway through the sessions."""
    postgres_down_seconds: float = 0.0
    server_kills: int = 0
    bad_messages: int = 0
    lost: list[str] = field(default_factory=list)
    """Courses that did not reach their persona's end."""
    unreplayable: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    """Courses and sessions still running, or any workflow whose history holds a failed
    workflow task."""
    left_for_staff: list[str] = field(default_factory=list)
    """Escalations still open: they wait for a person by design (a ride left unconfirmed
    while the worker was down is a real alert)."""
    accepted_bad_messages: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    """API answers of 500 or 502: an outage answers 503, a slow workflow 504."""
    unaudited: list[str] = field(default_factory=list)
    """Staff actions (request keys) with an audited intent and no audited outcome."""
    recorded: int = 0
    """Histories stored for the replay test (`--record`)."""
    server_retried: int = 0
    """Workflow tasks the server failed and handed out again (`SERVER_RETRIES`): no harm."""
    undosed_sessions: list[str] = field(default_factory=list)
    """Induction sessions a fault kept the clinic from, each ended with its reason: no harm."""
    catch_ups_refused: int = 0
    """Activations a query ran ahead of a workflow task, refused by `worker.runner`: no harm."""
    sessions: int = 0
    """Dosing session workflows the run started."""
    worker_identities: list[str] = field(default_factory=list)
    """Every worker process started, by its identity in Temporal (the SDK's `<pid>@<host>`)."""
    session_workers: set[str] = field(default_factory=set)
    """The identities that took a task (workflow or activity) of some dosing session."""

    def failures(self) -> dict[str, list[str]]:
        return {
            "lost courses": self.lost,
            "histories that do not replay": self.unreplayable,
            "stuck workflows": self.stuck,
            "bad messages accepted": self.accepted_bad_messages,
            "API answers 500 or 502": self.server_errors,
            "staff actions without an audited outcome": self.unaudited,
        }

    def table(self) -> Table:
        table = Table("count", "value", title="Fault run")
        table.add_row("courses", str(self.courses))
        table.add_row("dosing sessions", str(self.sessions))
        table.add_row("worker processes at a time", str(self.workers))
        table.add_row("worker SIGKILLs (restarted)", str(self.worker_kills))
        table.add_row("workers SIGKILLed for good", str(self.workers_lost))
        table.add_row("workers seen in session histories", str(len(self.session_workers)))
        table.add_row("PostgreSQL down (s)", f"{self.postgres_down_seconds:.0f}")
        table.add_row("dev server SIGKILLs", str(self.server_kills))
        table.add_row("bad Updates and signals sent", str(self.bad_messages))
        table.add_row("escalations left open for staff", str(len(self.left_for_staff)))
        table.add_row("tasks the server retried (benign)", str(self.server_retried))
        table.add_row("query catch-ups refused (benign)", str(self.catch_ups_refused))
        table.add_row("sessions ended undosed, with a reason", str(len(self.undosed_sessions)))
        for name, found in self.failures().items():
            table.add_row(name, str(len(found)))
        return table


@dataclass
class Process:
    args: list[str]
    env: dict[str, str]
    log_file: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_file.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, env=self.env
            )

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


class ServerErrors:
    """ASGI middleware that notes every answer of 500 or 502."""

    def __init__(self, app: ASGIApp, found: list[str]) -> None:
        self._app = app
        self._found = found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (500, 502):
                self._found.append(f"{scope['method']} {scope['path']}: {message['status']}")
            await send(message)

        await self._app(scope, receive, noting)


@dataclass(frozen=True)
class FaultStack:
    settings: Settings
    workers: list[Process]
    temporal: Process
    postgres: EmbeddedPostgres
    pool: asyncpg.Pool


@asynccontextmanager
async def process_stack(
    work_dir: Path, counts: Counts, workers: int = 1
) -> AsyncIterator[FaultStack]:
    """Postgres, the dev server and `workers` worker processes, each a process of its own, the
    API in this one (its 500 and 502 answers noted in `counts`)."""
    state = work_dir / "state"
    state.mkdir()
    async with AsyncExitStack() as stack:
        postgres = await start_postgres(work_dir / "postgres")
        stack.push_async_callback(postgres.stop)
        pool = await create_pool(postgres.url)
        stack.push_async_callback(pool.close)
        await migrate(pool)
        await seed_demo(pool, DEMO_CLINIC, DEMO_PROTOCOL)
        await issue_dev_tokens(pool, Settings(state_dir=state).api_token_file, DEMO_CLINIC)
        port = free_port()
        temporal = Process(
            [
                str(venv_binary("temporal")),
                *("server", "start-dev", "--headless", "--log-level", "error"),
                *("--db-filename", str(work_dir / "temporal.db")),
                *("--port", str(port), "--http-port", str(free_port())),
                *("--metrics-port", str(free_port()), "--ui-port", str(free_port())),
                *search_attribute_flags(),
            ],
            dict(os.environ),
            work_dir / "temporal.log",
        )
        await temporal.start()
        stack.push_async_callback(temporal.kill)
        settings = settings_with_test_key(state).model_copy(
            update={
                "database_url": postgres.url,
                "temporal_address": f"127.0.0.1:{port}",
                "allow_simulation": True,
            }
        )
        client = await connect_when_up(settings)
        app = ServerErrors(create_app(settings, client, pool), counts.server_errors)
        api = httpx.URL(await stack.enter_async_context(served(app)))
        settings = settings.model_copy(update={"api_host": api.host, "api_port": api.port})
        worker_env = {
            **os.environ,
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "DATABASE_URL": postgres.url,
            "TRDFLOW_STATE_DIR": str(state),
            "TRDFLOW_DATABASE_ROLE": APP_ROLE,
            "TRDFLOW_CODEC_KEYS": json.dumps({TEST_KEY_ID: TEST_KEY}),
            "TRDFLOW_CODEC_ACTIVE_KEY": TEST_KEY_ID,
            # Most tasks then replay their history first, as on a worker just restarted.
            "TRDFLOW_WORKER_CACHE_SIZE": str(WORKER_CACHE_SIZE),
        }
        fleet = []
        for number in range(1, workers + 1):
            worker = Process(
                [sys.executable, "-m", "worker.main"], worker_env, work_dir / f"worker-{number}.log"
            )
            await start_worker(worker, counts)
            stack.push_async_callback(worker.kill)
            fleet.append(worker)
        counts.workers = workers
        yield FaultStack(settings, fleet, temporal, postgres, pool)


async def start_worker(worker: Process, counts: Counts) -> None:
    """Start (or restart) a worker process, noting the identity it polls Temporal under."""
    await worker.start()
    assert worker.process is not None
    counts.worker_identities.append(f"{worker.process.pid}@{socket.gethostname()}")


async def connect_when_up(settings: Settings) -> Client:
    last: Exception | None = None
    for _ in range(200):
        try:
            return await connect(settings)
        except RuntimeError as err:  # the server is still starting
            last = err
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the dev server at {settings.temporal_address} never answered: {last}")


async def crash_worker(
    workers: Sequence[Process], kills: int, counts: Counts, rng: random.Random
) -> None:
    """SIGKILL a worker `kills` times at random moments (any of a fleet), starting it again
    each time."""
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(3.0, 8.0))
        # A lone worker draws nothing: a seed replays the single-worker runs it always did.
        worker = workers[rng.randrange(len(workers))] if len(workers) > 1 else workers[0]
        await worker.kill()
        counts.worker_kills += 1
        await asyncio.sleep(rng.uniform(0.2, 2.0))
        await start_worker(worker, counts)


async def lose_workers(
    client: Client, workers: Sequence[Process], lost: int, sessions: int, counts: Counts
) -> None:
    """Once half of the run's `sessions` have closed, SIGKILL `lost` workers for good (the
    last ones): the rest of the fleet must finish what they held."""
    if lost == 0:
        return
    closed = "WorkflowType = 'DosingSession' AND ExecutionStatus != 'Running'"
    for _ in range(HALFWAY_POLLS):
        with contextlib.suppress(RPCError):  # the dev server may be down for a moment
            if (await client.count_workflows(closed)).count >= sessions / 2:
                break
        await asyncio.sleep(0.5)
    for worker in workers[len(workers) - lost :]:
        await worker.kill()
        counts.workers_lost += 1


async def break_infrastructure(
    stack: FaultStack, plan: Faults, counts: Counts, rng: random.Random
) -> None:
    """Stop PostgreSQL for `plan.postgres_outage` seconds, then SIGKILL the dev server
    `plan.server_kills` times, starting each again where it was."""
    if plan.postgres_outage > 0:
        await asyncio.sleep(rng.uniform(5.0, 10.0))
        await stack.postgres.stop()
        await asyncio.sleep(plan.postgres_outage)
        await start_postgres(stack.postgres.data_dir)
        counts.postgres_down_seconds += plan.postgres_outage
    for _ in range(plan.server_kills):
        await asyncio.sleep(rng.uniform(5.0, 10.0))
        await stack.temporal.kill()
        counts.server_kills += 1
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        await stack.temporal.start()


def bad_messages() -> list[tuple[str, str, list[object]]]:
    """(kind, name, arguments) of every bad message a course is sent: Updates with `null` or
    the wrong shape, and signals a course must not believe."""
    bad_arguments: list[object] = [None, {"nonsense": True}]
    bad_signal_args: list[list[object]] = [[None], [{"escalation_id": "elsewhere"}], [{}, {}]]
    updates: list[tuple[str, str, list[object]]] = [
        ("update", name, [argument]) for name in BAD_UPDATES for argument in bad_arguments
    ]
    signals: list[tuple[str, str, list[object]]] = [
        ("signal", name, args) for name in BAD_SIGNALS for args in bad_signal_args
    ]
    return updates + signals


async def send_bad_messages(
    client: Client, courses: Sequence[DemoCourse], total: int, counts: Counts
) -> None:
    """`total` bad messages while the courses run: every kind to one course, then the next."""
    messages = bad_messages()
    for index in range(total):
        kind, name, args = messages[index % len(messages)]
        course_id = courses[(index // len(messages)) % len(courses)].course_id
        handle = client.get_workflow_handle(course_workflow_id(course_id))
        await until_it_answers(handle.describe)  # started, and the server up
        if (await handle.describe()).status is not WorkflowExecutionStatus.RUNNING:
            continue  # over already: nothing left to refuse a message
        counts.bad_messages += 1
        if kind == "signal":
            with contextlib.suppress(CourseOver):
                await until_it_answers(functools.partial(handle.signal, name, args=args))
            continue
        try:
            await handle.execute_update(name, args[0])
        except Exception:  # refused, as it must be: any refusal counts
            continue
        counts.accepted_bad_messages.append(f"{course_id} {name}({args[0]})")


class CourseOver(Exception):
    """The course ended while a message was on its way."""


async def until_it_answers(call: Callable[[], Awaitable[object]]) -> None:
    """Call until the server answers: a course not started yet, or a server being restarted."""
    for _ in range(STARTUP_POLLS):
        try:
            await call()
            return
        except RPCError as err:
            if "already completed" in err.message:
                raise CourseOver from err
            await asyncio.sleep(0.5)
    await call()  # the last try's error is the one to see


async def count_unaudited(pool: asyncpg.Pool, counts: Counts) -> None:
    rows = await pool.fetch(
        "SELECT request_key, min(action) AS action, min(details::text) AS details"
        " FROM audit_log WHERE request_key IS NOT NULL"
        " GROUP BY request_key HAVING bool_and(stage = 'intent') ORDER BY request_key"
    )
    # The action and its ids (audit details hold no PHI), to tell which door left it.
    counts.unaudited += [f"{r['action']} {r['details']} ({r['request_key'][:12]})" for r in rows]


async def settle(client: Client, counts: Counts) -> list[WorkflowHistory]:
    """Wait for every workflow to close; return every history of the run."""
    query = "ExecutionStatus = 'Running' AND WorkflowType != 'Escalation'"
    for _ in range(SETTLE_SECONDS):
        running = [w.id async for w in client.list_workflows(query)]
        if not running:
            break
        await asyncio.sleep(1)
    counts.stuck += running
    open_escalations = "ExecutionStatus = 'Running' AND WorkflowType = 'Escalation'"
    counts.left_for_staff += [w.id async for w in client.list_workflows(open_escalations)]
    histories = []
    async for execution in client.list_workflows():
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        for event in history.events:
            if event.event_type != FAILED_TASK:
                continue
            failed = event.workflow_task_failed_event_attributes
            if failed.cause in SERVER_RETRIES:
                counts.server_retried += 1
            else:
                cause = WorkflowTaskFailedCause.Name(failed.cause)
                why = f"{cause}: {failed.failure.message[:300]}"
                counts.stuck.append(f"{execution.id} (failed workflow task, {why})")
        if execution.workflow_type == "DosingSession":
            counts.sessions += 1
            counts.session_workers |= task_takers(history)
        histories.append(history)
    return histories


def task_takers(history: WorkflowHistory) -> set[str]:
    """The identities of the workers that took a workflow or activity task of a run."""
    return {
        event.workflow_task_started_event_attributes.identity
        if event.event_type == STARTED_TASK
        else event.activity_task_started_event_attributes.identity
        for event in history.events
        if event.event_type in (STARTED_TASK, STARTED_ACTIVITY)
    }


FAILED_HISTORIES = Path(tempfile.gettempdir()) / "trdflow-chaos-unreplayable"
"""Where a history that does not replay is kept, to be traced after the run's folder is gone."""


async def replay(settings: Settings, histories: Sequence[WorkflowHistory], counts: Counts) -> None:
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=data_converter(settings))
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            await asyncio.to_thread(write_histories, FAILED_HISTORIES, [history])
            counts.unreplayable.append(
                f"{history.workflow_id} (kept in {FAILED_HISTORIES}): {result.replay_failure}"
            )


def spans_a_restart(history: WorkflowHistory) -> bool:
    """More than one worker process took this run's workflow tasks."""
    workers = {
        event.workflow_task_started_event_attributes.identity
        for event in history.events
        if event.event_type == STARTED_TASK
    }
    return len(workers) > 1


def record_crashes(histories: Sequence[WorkflowHistory]) -> int:
    """Store the runs that span a restart, numbered along each workflow's runs."""
    folder = history_file(RECORDED_CRASHES, "x", 1).parent
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    runs: dict[str, list[WorkflowHistory]] = {}
    for history in sorted(histories, key=lambda h: h.events[0].event_time.ToDatetime()):
        runs.setdefault(history.workflow_id, []).append(history)
    stored = 0
    for workflow_id, chain in runs.items():
        for number, history in enumerate(chain, start=1):
            if spans_a_restart(history):
                history_file(RECORDED_CRASHES, workflow_id, number).write_text(history.to_json())
                stored += 1
    return stored


def write_histories(folder: Path, histories: Sequence[WorkflowHistory]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for history in histories:
        (folder / f"{history.workflow_id}--{history.run_id}.json").write_text(history.to_json())


def judge_outcomes(outcomes: Sequence[Outcome], induction_weeks: int, counts: Counts) -> None:
    """Both personas stop at the induction review, and every induction session is accounted
    for: dosed, or ended undosed with its reason. On a clock where a day lasts 3 s, a 30 s
    outage keeps the clinic out for ten days, past a session's deadlines."""
    for outcome in outcomes:
        status = outcome.status
        reached = None if status is None else (status.phase, status.sessions_done)
        undosed = [] if status is None else [s for s in status.recent_sessions if undosed_for(s)]
        accounted = (
            outcome.error is None
            and status is not None
            and status.phase is Phase.DISCONTINUED
            and status.sessions_done + len(undosed) == 2 * induction_weeks
        )
        if not accounted:
            counts.lost.append(f"{outcome.course_id}: {reached} {outcome.error or ''}".strip())
        counts.undosed_sessions.extend(
            f"{outcome.course_id} session {s.number}: {s.outcome} ({s.reason})" for s in undosed
        )


def undosed_for(session: SessionSummary) -> bool:
    """Ended without a dose, with the reason recorded."""
    ended = session.outcome is not None and session.outcome is not SessionOutcome.ATTENDED
    return ended and bool(session.reason)


async def publish_induction_weeks(pool: asyncpg.Pool, weeks: int) -> None:
    """The demo clinic's protocol from now on, with an induction of `weeks` (two sessions a
    week): courses started after it pin it."""
    shorter = DEMO_PROTOCOL.with_overrides(
        {"phases": {"induction_weeks": weeks}}, version=f"{DEMO_PROTOCOL.version}-{weeks}w"
    )
    await protocols.publish(pool, DEMO_CLINIC, shorter, "chaos")


def chaos_courses(courses: int) -> list[DemoCourse]:
    """`courses` demo courses of the two personas in turn."""
    rounds = (courses + len(PERSONAS) - 1) // len(PERSONAS)
    chosen = [
        course
        for round_ in range(rounds)
        for course in demo_courses(f"chaos{round_}", DAY_IN_A_SECOND)
        if course.persona in PERSONAS
    ][:courses]
    return chosen


@dataclass(frozen=True)
class Faults:
    worker_kills: int
    postgres_outage: float = 0.0
    """Seconds PostgreSQL stays down (0: no outage)."""
    server_kills: int = 0
    bad_messages: int = 64
    workers_lost: int = 0
    """Workers SIGKILLed for good once half the sessions are done (fewer than the fleet)."""


async def fault_run(
    work_dir: Path,
    *,
    courses: int,
    plan: Faults,
    seed: int,
    induction_weeks: int = 4,
    workers: int = 1,
    record: bool = False,
    dump: Path | None = None,
) -> Counts:
    if not 0 <= plan.workers_lost < workers:
        raise ValueError(f"of {workers} workers, at least one must stay up")
    counts = Counts()
    rng = random.Random(seed)
    async with process_stack(work_dir, counts, workers) as stack:
        await publish_induction_weeks(stack.pool, induction_weeks)
        played = chaos_courses(courses)
        counts.courses = len(played)
        client = await connect_when_up(stack.settings)
        # Each course plays two sessions a week of its induction, then ends at the review.
        sessions = len(played) * 2 * induction_weeks
        faults = [
            crash_worker(stack.workers, plan.worker_kills, counts, rng),
            lose_workers(client, stack.workers, plan.workers_lost, sessions, counts),
            break_infrastructure(stack, plan, counts, rng),
            send_bad_messages(client, played, plan.bad_messages, counts),
        ]
        tasks = [asyncio.create_task(fault) for fault in faults]
        outcomes = await play_demo(stack.settings, played)
        await asyncio.gather(*tasks)
        judge_outcomes(outcomes, induction_weeks, counts)
        histories = await settle(client, counts)
        await count_unaudited(stack.pool, counts)
        for worker in stack.workers:
            worker_log = await asyncio.to_thread(worker.log_file.read_text)
            counts.catch_ups_refused += worker_log.count(REFUSED)
        await replay(stack.settings, histories, counts)
        if dump is not None:
            await asyncio.to_thread(write_histories, dump, histories)
        if record:
            counts.recorded = record_crashes(histories)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--courses", type=int, default=20)
    parser.add_argument("--kills", type=int, default=7, help="worker SIGKILLs (each restarted)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes at a time")
    parser.add_argument(
        "--lose-workers",
        type=int,
        default=0,
        help="workers SIGKILLed for good once half the sessions are done",
    )
    parser.add_argument(
        "--postgres-outage", type=float, default=30.0, help="seconds PostgreSQL is stopped"
    )
    parser.add_argument("--server-kills", type=int, default=1, help="dev server SIGKILLs")
    parser.add_argument("--bad-messages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    parser.add_argument("--induction-weeks", type=int, default=4)
    parser.add_argument("--dump", type=Path, help="write every history of the run here")
    parser.add_argument(
        "--record", action="store_true", help="store the histories that span a restart"
    )
    args = parser.parse_args()
    console = Console()
    console.print(f"seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="trdflow-chaos-") as work:
        counts = asyncio.run(
            fault_run(
                Path(work),
                courses=args.courses,
                plan=Faults(
                    worker_kills=args.kills,
                    postgres_outage=args.postgres_outage,
                    server_kills=args.server_kills,
                    bad_messages=args.bad_messages,
                    workers_lost=args.lose_workers,
                ),
                seed=args.seed,
                induction_weeks=args.induction_weeks,
                workers=args.workers,
                record=args.record,
                dump=args.dump,
            )
        )
    console.print(counts.table())
    if args.record:
        console.print(f"{counts.recorded} histories stored for the replay test")
    for item in counts.undosed_sessions:
        console.print(f"ended undosed: {item}", soft_wrap=True)
    for name, found in counts.failures().items():
        for item in found:
            console.print(f"{name}: {item}", soft_wrap=True)
    sys.exit(1 if any(counts.failures().values()) else 0)


if __name__ == "__main__":
    main()
