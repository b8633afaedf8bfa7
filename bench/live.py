"""The live stack the latency benches share, and the sessions they drive through it.

`live_stack` runs `cli.localstack.live_stack` under a throwaway folder: on free loopback ports,
the Temporal dev server, an embedded PostgreSQL with the project's schema, the project's worker
and the HTTP API served by uvicorn, each a process of its own as `make run` lays them out. The
benches talk to the API over real HTTP, as a clinic system would; the bench's load, its
stand-ins and its watching run in its own process, so they never hold up the worker's or the
API's event loop.

`in_monitoring` brings a new course's first session to post-dose monitoring through the API,
where the session classifies every reading as it arrives. `Arrivals` records when a reading's
effects are first seen (its observations rows, its page); the workflows' histories give the
stages in between, and `measuring_load` what a phase cost the machine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from cli import localstack
from cli.devtokens import GATEWAY, NURSE
from cli.handles import course_handle, session_handle
from cli.localstack import new_course_id
from cli.room import DRIVER, LOT, bearer
from cli.simulation import PERSONAS, assessment_for, demo_course
from domain.clock import CourseClock
from domain.contract import session_workflow_id
from domain.course import CourseResult, CourseStatus, Reschedule
from domain.protocol import DosingRules
from domain.session import SessionSummary, Stage
from worker.client import ask
from workflows.course import TreatmentCourse
from workflows.session import DosingSession

T = TypeVar("T")

"""The BP-monitor gateway: a service actor of the stack's dev tokens."""
BENCH_ACTOR = "bench"
POLL_SECONDS = 0.05
"""Set-up polls (stage, course status): not on any measured path."""
SETTLE_TIMEOUT_S = 60.0
EFFECT_TIMEOUT_S = 120.0
OBSERVATION_POLL_S = 0.005
LAG_PROBE_S = 0.01
REQUESTS = "service_requests{"
"""The dev server's counter of the requests it answered, in its Prometheus scrape."""
SCRAPE_SETTLES_S = 1.5
"""Longer than the dev server's metrics reporting interval (1 s): a scrape taken as a phase
ends lags its last requests by up to that."""
SCRAPE_SETTLE_TRIES = 10
PERIODIC_REQUESTS = frozenset({"RecordWorkerHeartbeat"})
"""The workers' own heartbeats, which never stop: left out of "settled"."""
WALL_OFFSET = time.time() - time.perf_counter()
"""perf_counter + WALL_OFFSET is wall time, comparable with the server's event times."""
PERSONA = PERSONAS["responder"]
BETWEEN_DEVICES = timedelta(minutes=DosingRules().minutes_between_devices)
GATEWAY_EVERY_S = 10.0
"""A monitor gateway's reading per session every 10 s: far more often than a nurse takes
vitals in the room (every 15 min or so), so the routine load is, if anything, heavy."""
MOVED_AHEAD = timedelta(minutes=90)
"""Within the 2 h before a session when check-in opens, and still ahead when the course takes
the move, busy as it may be (4.5 s of real time on the most compressed clock)."""
NORMAL = {"systolic": 128, "diastolic": 82, "heart_rate": 76, "spo2": 98, "moaas": 5, "cadss": 0}


@dataclass(frozen=True)
class Stack:
    client: Client
    http: httpx.AsyncClient
    """The API over real HTTP, signed in as the nurse."""
    gateway: dict[str, str]
    """The BP-monitor gateway's Authorization header (a service); staff act as the nurse."""
    pool: asyncpg.Pool
    """The bench's own connections (seeding and watching), apart from the API's and worker's."""
    postmaster_pid_file: Path
    processes: Mapping[str, int]
    """The worker's and the API's pids."""
    server_metrics_url: str
    """The dev server's Prometheus metrics."""


@asynccontextmanager
async def live_stack(work_dir: Path, **settings_update: object) -> AsyncIterator[Stack]:
    """`cli.localstack.live_stack` under `work_dir` (existing, empty), with a client of its API;
    `settings_update` overrides settings fields (by name), e.g. to choose providers."""
    async with (
        localstack.live_stack(work_dir, processes=True, **settings_update) as live,
        httpx.AsyncClient(
            base_url=live.api_url,
            headers=bearer(live.settings, NURSE),
            timeout=httpx.Timeout(60.0),
            # One connection per concurrent session, like one device each; dropped before
            # uvicorn's 5 s keep-alive ends it, so a POST never races the server's close.
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=None, keepalive_expiry=2.0
            ),
        ) as http,
    ):
        gateway = bearer(live.settings, GATEWAY)
        yield Stack(
            live.client,
            http,
            gateway,
            live.pool,
            live.postmaster_pid_file,
            live.processes,
            live.server_metrics_url,
        )


# --- Sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """A course's first session, in post-dose monitoring."""

    course_id: str
    number: int

    @property
    def workflow_id(self) -> str:
        return session_workflow_id(self.course_id, self.number)

    @property
    def path(self) -> str:
        return f"/v1/courses/{self.course_id}/sessions/{self.number}"


@dataclass(frozen=True)
class Posted:
    reading_id: int
    sent: float
    """perf_counter just before the POST."""
    acked: float
    """perf_counter once the API answered (stored and signalled)."""


async def post_vitals(stack: Stack, room: Room, **signs: object) -> Posted:
    """A reading taken now, from the gateway."""
    body = {"taken_at": datetime.now(UTC).isoformat(), **signs}
    sent = time.perf_counter()
    response = await stack.http.post(f"{room.path}/vitals", json=body, headers=stack.gateway)
    acked = time.perf_counter()
    _expect(response, 202)
    return Posted(reading_id=int(response.json()["reading_id"]), sent=sent, acked=acked)


@dataclass(frozen=True)
class Sample:
    """One reading: posted, answered, and when each awaited effect of it was first seen."""

    room: Room
    posted: Posted
    seen: tuple[float, ...]
    """perf_counter per effect, in the order they were awaited."""

    @property
    def ack_s(self) -> float:
        return self.posted.acked - self.posted.sent

    def effect_s(self, effect: int) -> float:
        return self.seen[effect] - self.posted.sent


async def measured_reading(
    stack: Stack, room: Room, signs: Mapping[str, object], effects: Sequence[Arrivals]
) -> Sample:
    """Post a reading and wait for each of its effects."""
    posted = await post_vitals(stack, room, **signs)
    seen = [await effect.wait(posted.reading_id, EFFECT_TIMEOUT_S) for effect in effects]
    return Sample(room, posted, tuple(seen))


@asynccontextmanager
async def gateways(
    stack: Stack, rooms: Sequence[Room], every_s: float, effects: Sequence[Arrivals] = ()
) -> AsyncIterator[list[Sample]]:
    """Each room's monitor gateway posts a normal reading every `every_s`, the rooms spread
    evenly over the interval, until the block ends: open loop, as devices do, so a slow answer
    delays no later reading. Yields the list the readings' samples go into (each with its
    `effects` seen); on leaving, the readings under way finish first, and the first that
    failed (refused, or an effect never seen) is raised."""
    samples: list[Sample] = []
    posted: list[asyncio.Task[None]] = []

    async def reading(room: Room) -> None:
        samples.append(await measured_reading(stack, room, NORMAL, effects))

    async def gateway(room: Room, offset_s: float) -> None:
        due = time.perf_counter() + offset_s
        while True:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            posted.append(asyncio.create_task(reading(room)))
            due += every_s

    feeding = [
        asyncio.create_task(gateway(room, every_s * number / len(rooms)))
        for number, room in enumerate(rooms)
    ]
    try:
        yield samples
    finally:
        for task in feeding:
            task.cancel()
        await asyncio.gather(*feeding, return_exceptions=True)
        await asyncio.gather(*posted)


async def in_monitoring(stack: Stack, label: str, busy: asyncio.Semaphore) -> Room:
    """A new course (scale 1) whose first session is moved to a minute from now, checked in,
    dosed after normal pre-dose vitals and a confirmed ride, and now monitoring. Its two devices
    are the label's 5 minutes apart: `busy` bounds the sessions setting up at once, not those
    waiting between devices."""
    async with busy:
        room, first_device = await _checked_in(stack, label)
    await asyncio.sleep((first_device + BETWEEN_DEVICES - datetime.now(UTC)).total_seconds())
    async with busy:
        await _dosed(stack, room, first_device)
    return room


async def _checked_in(stack: Stack, label: str) -> tuple[Room, datetime]:
    """The room, checked in with normal pre-dose vitals; returns when the first device was
    used (then)."""
    course = await booked(stack, label)
    await move_to_now(stack, course)
    room = Room(course.course_id, course.session.number)
    await until_accepted(stack, f"{room.path}/check-in")
    await post_vitals(stack, room, **NORMAL)
    return room, datetime.now(UTC)


@dataclass(frozen=True)
class Booked:
    """A new course's first session, its ride confirmed."""

    course_id: str
    session: SessionSummary
    clock: CourseClock


async def booked(stack: Stack, label: str, time_scale: float = 1.0) -> Booked:
    """A new course on a clock of `time_scale`, started through the API and assessed, with its
    first session booked (days ahead, on the clinic's calendar)."""
    course_id = new_course_id(label)
    course = demo_course(course_id, PERSONA, time_scale=time_scale)
    response = await stack.http.post(
        "/v1/courses", json=course.model_dump(mode="json"), headers=stack.gateway
    )
    _expect(response, 201)
    handle = course_handle(stack.client, course_id)
    # The ride hangs off the course's record, written once the course registers its patient.
    await _until(lambda: _registered(stack.pool, course_id))
    await handle.execute_update(TreatmentCourse.submit_assessment, assessment_for(PERSONA))
    status = await _until(lambda: _with_session(handle))
    assert status.current_session is not None
    room = Room(course_id, status.current_session.number)
    # The course shows its session a moment before the session's workflow starts.
    await _until(lambda: _started(stack.client, room))
    # Confirmed before the move: an unconfirmed ride 2 h before would raise its own alert.
    _expect(await stack.http.put(f"{room.path}/transport", json=DRIVER), 204)
    _expect(await stack.http.post(f"{room.path}/transport/confirm"), 200)
    return Booked(course_id, status.current_session, status.clock)


async def move_to_now(stack: Stack, course: Booked) -> None:
    """The session moved to `MOVED_AHEAD` from now (protocol time): check-in opens at once."""
    move = Reschedule(
        session=course.session.number,
        new_time=course.clock.to_protocol(datetime.now(UTC)) + MOVED_AHEAD,
        requested_by=BENCH_ACTOR,
        reason="bench: the session starts now",
    )
    handle = course_handle(stack.client, course.course_id)
    await handle.execute_update(TreatmentCourse.reschedule_session, move)


async def _dosed(stack: Stack, room: Room, first_device: datetime) -> None:
    devices = (first_device, first_device + BETWEEN_DEVICES)
    administration = {
        "dose_mg": 56,
        "lot": LOT,
        "device_times": [at.isoformat() for at in devices],
    }
    # 409 until the pre-dose reading is classified.
    await _until(
        lambda: _accepted(stack.http.post(f"{room.path}/administration", json=administration))
    )
    await _until(lambda: _in_stage(stack.client, room, Stage.MONITORING))


async def in_monitoring_many(stack: Stack, label: str, count: int, at_once: int = 10) -> list[Room]:
    """`count` sessions in monitoring, set up `at_once` at a time."""
    busy = asyncio.Semaphore(at_once)
    rooms = (in_monitoring(stack, f"{label}-{number}", busy) for number in range(count))
    return list(await asyncio.gather(*rooms))


async def _registered(pool: asyncpg.Pool, course_id: str) -> bool | None:
    found = await pool.fetchval("SELECT 1 FROM courses WHERE course_id = $1", course_id)
    return True if found else None


async def _with_session(
    handle: WorkflowHandle[TreatmentCourse, CourseResult],
) -> CourseStatus | None:
    status = await ask(handle, TreatmentCourse.status)
    return None if status.current_session is None else status


async def _started(client: Client, room: Room) -> bool | None:
    try:
        await client.get_workflow_handle(room.workflow_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return True


async def _accepted(request: Awaitable[httpx.Response]) -> bool | None:
    """None (ask again) on a 409 (not yet) or a 503 (the API asks to be retried), as a clinic's
    system would."""
    response = await request
    if response.status_code in (409, 503):
        return None
    _expect(response, 200)
    return True


async def until_accepted(stack: Stack, path: str) -> None:
    """POST `path` until the API accepts it: a check-in is refused (409) until the session has
    taken its move from the course."""
    await _until(lambda: _accepted(stack.http.post(path)))


async def _in_stage(client: Client, room: Room, stage: Stage) -> bool | None:
    handle = session_handle(client, room.workflow_id)
    return True if (await ask(handle, DosingSession.details)).stage is stage else None


async def _until(check: Callable[[], Awaitable[T | None]], poll_s: float = POLL_SECONDS) -> T:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while (found := await check()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"never settled: {check}")
        await asyncio.sleep(poll_s)
    return found


def _expect(response: httpx.Response, code: int) -> None:
    if response.status_code != code:
        request = response.request
        raise RuntimeError(
            f"{request.method} {request.url.path}: {response.status_code} {response.text}"
        )


# --- Watching for effects --------------------------------------------------------------------


class Arrivals:
    """When each awaited effect (keyed by reading id) was first seen, as perf_counter."""

    def __init__(self) -> None:
        self._seen: dict[int, float] = {}
        self._waiting: dict[int, asyncio.Future[float]] = {}

    def arrived(self, key: int, at: float) -> None:
        if key in self._seen:
            return  # the first arrival counts (a retried or repeated effect comes later)
        self._seen[key] = at
        waiter = self._waiting.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(at)

    def pending(self) -> list[int]:
        return list(self._waiting)

    async def wait(self, key: int, timeout_s: float) -> float:
        if key in self._seen:
            return self._seen[key]
        waiter = self._waiting.setdefault(key, asyncio.get_running_loop().create_future())
        async with asyncio.timeout(timeout_s):
            return await waiter


@asynccontextmanager
async def watching_observations(
    pool: asyncpg.Pool, interval_s: float = OBSERVATION_POLL_S
) -> AsyncIterator[Arrivals]:
    """Polls the `observations` table every `interval_s` for the awaited readings: a reading
    is classified and recorded once its checkpoint's rows are committed."""
    arrivals = Arrivals()

    async def poll() -> None:
        async with pool.acquire() as conn:
            while True:
                # By reading id, not "rows after the last id seen": concurrent checkpoints
                # commit out of id order.
                if waiting := arrivals.pending():
                    rows = await conn.fetch(
                        "SELECT DISTINCT reading_id FROM observations "
                        "WHERE reading_id = ANY($1::bigint[])",
                        waiting,
                    )
                    seen = time.perf_counter()
                    for row in rows:
                        arrivals.arrived(row["reading_id"], seen)
                await asyncio.sleep(interval_s)

    task = asyncio.create_task(poll())
    try:
        yield arrivals
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --- Histories -------------------------------------------------------------------------------


async def history(client: Client, workflow_id: str) -> list[HistoryEvent]:
    return [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]


def signals(events: Iterable[HistoryEvent], name: str) -> Iterator[HistoryEvent]:
    """The events of the signals named `name`, in order."""
    return (
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and e.workflow_execution_signaled_event_attributes.signal_name == name
    )


def first(events: Iterable[HistoryEvent], event_type: EventType.ValueType) -> HistoryEvent:
    return next(e for e in events if e.event_type == event_type)


def wall_time(event: HistoryEvent) -> float:
    """The event's time on the server (same machine), as time.time() reads it."""
    return float(event.event_time.ToMicroseconds()) / 1e6


def stage_medians(stages: Sequence[str], marks: Sequence[Sequence[float]]) -> dict[str, float]:
    """Median ms per stage; `marks` holds per sample the time each stage began, then when
    the last one ended (so one more time than stages)."""
    if not marks:
        return {}
    return {
        stage: ms(statistics.median(times[index + 1] - times[index] for times in marks))
        for index, stage in enumerate(stages)
    }


# --- Load and figures ----------------------------------------------------------------------


PARTS = ("bench process", "api", "worker", "temporal", "postgres", "machine")
"""Where the CPU went: this process (the load, the stand-ins, the watching), the API's and the
worker's processes, the dev server, the embedded PostgreSQL, and the whole machine (whoever
else is on it too)."""


@dataclass(frozen=True)
class Load:
    wall_s: float
    cores: dict[str, float]
    """CPU used per part of PARTS, in cores (the machine has os.cpu_count())."""
    loop_lag_ms: dict[str, float]
    """How late the bench process's event loop (its load, stand-ins and clocks) woke a 10 ms
    sleep."""
    server_requests: dict[str, int]
    """The requests the dev server answered (its frontend), by operation, long polls aside;
    empty unless counted."""


@asynccontextmanager
async def measuring_load(
    stack: Stack, *, count_requests: bool = False
) -> AsyncIterator[list[Load]]:
    """Yields a list that holds the phase's Load once the block ends (Linux /proc). With
    `count_requests`, the dev server's requests too: for a phase whose work is all done when
    it ends, as the counts are read once they have settled."""
    loads: list[Load] = []
    lags: list[float] = []
    served = await server_requests(stack) if count_requests else Counter[str]()
    sampling = asyncio.create_task(_sample_loop_lag(lags))
    began, before = time.perf_counter(), _cpu_ticks(stack)
    try:
        yield loads
    finally:
        sampling.cancel()
    wall_s = time.perf_counter() - began
    after = _cpu_ticks(stack)
    per_second = os.sysconf("SC_CLK_TCK") * wall_s
    cores = {part: round((after[part] - before[part]) / per_second, 2) for part in PARTS}
    lag = {**percentiles(lags), "max_ms": ms(max(lags, default=0.0))}
    requests = dict(await server_requests(stack) - served) if count_requests else {}
    loads.append(
        Load(wall_s=round(wall_s, 2), cores=cores, loop_lag_ms=lag, server_requests=requests)
    )


async def server_requests(stack: Stack) -> Counter[str]:
    """The requests the dev server's frontend has answered so far, by operation (its
    `service_requests` counter), the workers' long polls aside: they count waiting, not work.
    Read once the counter has settled: two scrapes `SCRAPE_SETTLES_S` apart agree."""
    last = await _scrape_requests(stack)
    for _ in range(SCRAPE_SETTLE_TRIES):
        await asyncio.sleep(SCRAPE_SETTLES_S)
        served = await _scrape_requests(stack)
        if _working(served) == _working(last):
            return served
        last = served
    raise RuntimeError(f"the dev server's request counts never settled: {last}")


async def _scrape_requests(stack: Stack) -> Counter[str]:
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(stack.server_metrics_url)).raise_for_status().text
    return requests_served(metrics)


def _working(served: Counter[str]) -> dict[str, int]:
    return {op: count for op, count in served.items() if op not in PERIODIC_REQUESTS}


def requests_served(metrics: str) -> Counter[str]:
    """The frontend's requests by operation, long polls aside, from a Prometheus scrape."""
    # Only its lines are parsed: the whole scrape holds thousands.
    counter = "".join(line + "\n" for line in metrics.splitlines() if line.startswith(REQUESTS))
    served: Counter[str] = Counter()
    for family in text_string_to_metric_families(counter):
        for sample in family.samples:
            operation = sample.labels.get("operation", "")
            if sample.labels.get("service_name") == "frontend" and not operation.startswith("Poll"):
                served[operation] += int(sample.value)
    return served


async def _sample_loop_lag(lags: list[float]) -> None:
    """A blocked loop (CPU-bound code in a coroutine, or a starved process) delays every
    task in it: workflow activations, activities, API requests and the bench's clocks."""
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_S)
        lags.append(time.perf_counter() - asked - LAG_PROBE_S)


def _cpu_ticks(stack: Stack) -> dict[str, int]:
    """Cumulative CPU ticks (user + system) per part."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # After the parenthesised command: state, ppid, ... utime (14th field), stime (15th).
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    postgres = _tree(parents, int(stack.postmaster_pid_file.read_text().split()[0]))
    api, worker = (_tree(parents, stack.processes[part]) for part in ("api", "worker"))
    own = os.getpid()
    # The dev server, worker and API are this process's children; the postmaster daemonises.
    temporal = _tree(parents, own) - {own} - postgres - api - worker
    return {
        "bench process": ticks.get(own, 0),
        "api": sum(ticks.get(pid, 0) for pid in api),
        "worker": sum(ticks.get(pid, 0) for pid in worker),
        "temporal": sum(ticks.get(pid, 0) for pid in temporal),
        "postgres": sum(ticks.get(pid, 0) for pid in postgres),
        # /proc/stat counts every core's ticks: per wall-clock tick, busy cores.
        "machine": _machine_ticks(),
    }


async def settled(quiet_cores: float = 0.5, within_s: float = 30.0) -> None:
    """Until the machine has been quiet (under `quiet_cores` busy) for a second, or
    `within_s` has passed: what the set-up started (the sessions' first activities, their
    timers) must not fall into the first measured phase."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        before = _machine_ticks()
        await asyncio.sleep(1.0)
        if (_machine_ticks() - before) / os.sysconf("SC_CLK_TCK") < quiet_cores:
            return


def _machine_ticks() -> int:
    """Busy ticks of every core since boot (/proc/stat: all but idle and iowait)."""
    machine = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(machine) - machine[3] - machine[4]


def _tree(parents: dict[int, int], root: int) -> set[int]:
    found = {root}
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


@dataclass(frozen=True)
class Phase:
    """A measured phase: its sessions in the room, its samples and what it cost."""

    sessions: int
    samples: list[Sample]
    load: Load
    routine: int = 0
    """Routine readings the sessions' gateways posted meanwhile (`gateways`)."""
    how: str = ""
    """What sets it apart when its sessions alone do not (say, "all at once")."""

    @property
    def label(self) -> str:
        sessions = f"{self.sessions} session{'s' if self.sessions > 1 else ''}"
        return f"{sessions}, {self.how}" if self.how else sessions

    @property
    def routine_per_s(self) -> float:
        return round(self.routine / self.load.wall_s, 1) if self.load.wall_s else 0.0


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 and p99 in ms; p99 interpolates between the two worst of a small sample."""
    if len(samples) < 2:
        return {"p50_ms": ms(samples[0]), "p99_ms": ms(samples[0])} if samples else {}
    p99 = statistics.quantiles(samples, n=100, method="inclusive")[98]
    return {"p50_ms": ms(statistics.median(samples)), "p99_ms": ms(p99)}


async def run_all(tasks: Collection[Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*tasks))


def console() -> Console:
    """Wide enough for the tables when piped (rich assumes 80 columns then)."""
    return Console(width=None if sys.stdout.isatty() else 130)


def figures_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    table = Table(title=title)
    for number, column in enumerate(columns):
        # Labels whole; the figures' headings wrap instead when the table is wide.
        label = number == 0
        table.add_column(column, justify="left" if label else "right", no_wrap=label)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    return table


def load_table(phases: Sequence[Phase]) -> Table:
    return loads_table(
        [(p.label, p.load) for p in phases],
        ("routine readings/s", [p.routine_per_s for p in phases]),
    )


def loads_table(
    loads: Sequence[tuple[str, Load]], extra: tuple[str, Sequence[object]] | None = None
) -> Table:
    """What each phase cost: CPU per part, the bench loop's lag, wall time (and `extra`, a
    column's name and its value per phase)."""
    name, values = extra or ("", [])
    return figures_table(
        f"CPU used, in cores (of {os.cpu_count()}); event-loop lag (ms); phase wall time",
        ("", *PARTS, "bench loop lag p50 / p99 / max", "wall s", *([name] if extra else [])),
        [
            [
                label,
                *(load.cores[part] for part in PARTS),
                " / ".join(str(v) for v in load.loop_lag_ms.values()),
                load.wall_s,
                *([values[index]] if extra else []),
            ]
            for index, (label, load) in enumerate(loads)
        ],
    )
