"""Dosing sessions completed per minute on the dev server, against no-op workflows of the same
shape and footprint in the same run.

    .venv/bin/python -m bench.session_throughput [--sessions 10 50]     (make bench-throughput)

On one live stack (`bench.live`: dev server, PostgreSQL, the worker and the API as processes of
their own), with courses on a compressed clock (the room's minutes at the response floor: two
hours of monitoring in 6 s):
1. alone: one session from its check-in to its end, played by the simulated clinic
   (`cli.room.RoomPlayer`) through the API; its history gives the baseline's shape and pacing;
then at each level of `--sessions`:
2. together: that many courses booked beforehand, their sessions moved to now and played at
   once, from check-in to end;
3. baselines: as many `bench.noop_session.NoOpSession`s at once (their worker is in this
   process), each input sent when the lone session got its own; first of the session's own
   shape, then of its whole footprint: that shape padded with the activities and workflow
   tasks the lone session cost the dev server beyond a lone no-op of its shape (its REMS
   filing, its course starting the next session).
Throughput is sessions over the wall time from the first check-in to the last end. Prints it
for each with the sessions' ratio to both baselines (the goal's is the footprint's), session
wall times, the shapes side by side, the load and what each phase asked of the dev server per
session, as tables and as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.worker import Worker

from bench import noop_session
from bench.live import (
    Booked,
    Load,
    Room,
    Stack,
    booked,
    console,
    figures_table,
    history,
    live_stack,
    loads_table,
    measuring_load,
    move_to_now,
    percentiles,
    run_all,
    settled,
    until_accepted,
)
from bench.noop_session import NoOpSession, Shape, is_local_activity, noop, shape_of
from cli.room import ClinicApi, RoomPlayer, wall_advance, wall_now
from domain.clock import RESPONSE_SCALE_FLOOR
from domain.session import SessionOutcome
from worker.logs import configure_logging

SCALE = RESPONSE_SCALE_FLOOR
"""The course's clock: as compressed as the room allows."""
LEVELS = [10, 50]
BOOKING_AT_ONCE = 10
CHECK_IN_UPDATE = "check_in"
ACTIVITY_DONE = "RespondActivityTaskCompleted"
WORKFLOW_TASK_DONE = "RespondWorkflowTaskCompleted"


@dataclass(frozen=True)
class Played:
    workflow_id: str
    started: float
    """perf_counter at its first check-in attempt (or the no-op's start)."""
    ended: float

    @property
    def wall_s(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Run:
    label: str
    played: list[Played]
    load: Load

    @property
    def window_s(self) -> float:
        return max(p.ended for p in self.played) - min(p.started for p in self.played)

    @property
    def per_minute(self) -> float:
        return round(len(self.played) / self.window_s * 60, 1)


@dataclass(frozen=True)
class Counts:
    """A session's history, counted: what the no-op must match."""

    workflow_tasks: int
    timers: int
    activities: int
    local_activities: int
    inputs: int


async def attended(stack: Stack, course: Booked) -> Played:
    """The session from its check-in (as soon as it opens) to its end, through the API."""
    room = Room(course.course_id, course.session.number)
    started = time.perf_counter()
    await until_accepted(stack, f"{room.path}/check-in")
    player = RoomPlayer(ClinicApi(stack.http), stack.client, now=wall_now, advance=wall_advance)
    summary = await player.attend(course.course_id, course.session, course.clock, dose_mg=56)
    if summary.outcome is not SessionOutcome.ATTENDED:
        raise RuntimeError(f"{course.session.workflow_id} ended {summary.outcome}")
    return Played(course.session.workflow_id, started, time.perf_counter())


async def played_together(stack: Stack, courses: Sequence[Booked]) -> list[Played]:
    await run_all([move_to_now(stack, course) for course in courses])
    return await run_all([attended(stack, course) for course in courses])


async def booked_many(stack: Stack, label: str, count: int) -> list[Booked]:
    busy = asyncio.Semaphore(BOOKING_AT_ONCE)

    async def one(number: int) -> Booked:
        async with busy:
            return await booked(stack, f"{label}-{number}", SCALE)

    return await run_all([one(number) for number in range(count)])


async def no_op(client: Client, shape: Shape, number: int) -> Played:
    workflow_id = f"bench-noop-{number}-{time.time_ns()}"
    started = time.perf_counter()
    handle = await client.start_workflow(
        NoOpSession.run, shape, id=workflow_id, task_queue=noop_session.TASK_QUEUE
    )
    for sent in shape.inputs:
        await asyncio.sleep(max(0.0, started + sent.after_s - time.perf_counter()))
        if sent.update:
            await handle.execute_update(NoOpSession.updated)
        else:
            await handle.signal(NoOpSession.signalled)
    await handle.result()
    return Played(workflow_id, started, time.perf_counter())


def check_in_index(events: Sequence[HistoryEvent]) -> int:
    return next(
        index
        for index, event in enumerate(events)
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        and event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        == CHECK_IN_UPDATE
    )


def counts(events: Sequence[HistoryEvent]) -> Counts:
    def of(*kinds: EventType.ValueType) -> int:
        return sum(1 for event in events if event.event_type in kinds)

    return Counts(
        workflow_tasks=of(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        timers=of(EventType.EVENT_TYPE_TIMER_STARTED),
        activities=of(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        local_activities=sum(1 for event in events if is_local_activity(event)),
        inputs=of(
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        ),
    )


async def counted(client: Client, runs: Sequence[Played], *, from_check_in: bool) -> list[Counts]:
    histories = [await history(client, p.workflow_id) for p in runs]
    return [counts(h[check_in_index(h) :] if from_check_in else h) for h in histories]


@dataclass(frozen=True)
class Level:
    """One load level: its sessions played at once, and as many no-ops of their own shape, and
    of their whole footprint."""

    sessions: Run
    no_ops: Run
    footprint_no_ops: Run

    @property
    def ratio(self) -> float:
        """Against the no-ops of the whole footprint: the goal's figure."""
        return round(self.sessions.per_minute / self.footprint_no_ops.per_minute, 2)

    @property
    def own_shape_ratio(self) -> float:
        return round(self.sessions.per_minute / self.no_ops.per_minute, 2)


@dataclass(frozen=True)
class Padding:
    """What one session cost the dev server beyond a no-op of its own shape, played alone."""

    activities: int
    workflow_tasks: int

    @classmethod
    def between(cls, session: Load, no_op: Load) -> Padding:
        def beyond(operation: str) -> int:
            more = session.server_requests.get(operation, 0) - no_op.server_requests.get(
                operation, 0
            )
            return max(0, more)

        return cls(beyond(ACTIVITY_DONE), beyond(WORKFLOW_TASK_DONE))


@dataclass(frozen=True)
class Measured:
    alone: Run
    lone_no_op: Run
    padding: Padding
    levels: list[Level]
    shapes: dict[str, list[Counts]]


async def measure(levels: Sequence[int]) -> Measured:
    """Each level's courses are booked just before it plays: a session left waiting would come
    due on its own (a protocol day is 72 s on this clock)."""
    with tempfile.TemporaryDirectory() as work:
        async with (
            live_stack(Path(work), allow_simulation=True) as stack,
            Worker(
                stack.client,
                task_queue=noop_session.TASK_QUEUE,
                workflows=[NoOpSession],
                activities=[noop],
            ),
        ):
            lone = await booked(stack, "bench-throughput-alone", SCALE)
            await settled()
            async with measuring_load(stack, count_requests=True) as load:
                played = await played_together(stack, [lone])
            alone = Run("1 session, alone", played, load[0])
            events = await history(stack.client, lone.session.workflow_id)
            shape = shape_of(events, check_in_index(events))
            lone_no_op = await no_ops_at_once(stack, shape, 1, "1 no-op, alone")
            padding = Padding.between(alone.load, lone_no_op.load)
            footprint = shape.with_footprint(padding.activities, padding.workflow_tasks)
            measured = []
            for level in levels:
                courses = await booked_many(stack, f"bench-throughput-{level}", level)
                await settled()
                async with measuring_load(stack, count_requests=True) as load:
                    together = await played_together(stack, courses)
                sessions = Run(f"{level} sessions at once", together, load[0])
                own = await no_ops_at_once(stack, shape, level, f"{level} no-ops, own shape")
                whole = await no_ops_at_once(
                    stack, footprint, level, f"{level} no-ops, whole footprint"
                )
                measured.append(Level(sessions, own, whole))
            busiest = measured[-1]
            shapes = {
                "session (from check-in)": await counted(
                    stack.client, busiest.sessions.played, from_check_in=True
                ),
                "no-op, own shape": await counted(
                    stack.client, busiest.no_ops.played, from_check_in=False
                ),
            }
            return Measured(alone, lone_no_op, padding, measured, shapes)


async def no_ops_at_once(stack: Stack, shape: Shape, count: int, label: str) -> Run:
    await settled()
    async with measuring_load(stack, count_requests=True) as load:
        played = await run_all([no_op(stack.client, shape, n) for n in range(count)])
    return Run(label, played, load[0])


def summarise(run: Run) -> dict[str, Any]:
    walls = [p.wall_s for p in run.played]
    wall_ms = percentiles(walls)
    return {
        "sessions": len(run.played),
        "window_s": round(run.window_s, 2),
        "per_minute": run.per_minute,
        "session_wall": {
            "p50_s": round(wall_ms["p50_ms"] / 1000, 2),
            "p99_s": round(wall_ms["p99_ms"] / 1000, 2),
        },
        "session_wall_s": sorted(round(wall, 3) for wall in walls),
        "cpu_cores": run.load.cores,
        "server_requests_per_session": {
            operation: round(count / len(run.played), 1)
            for operation, count in sorted(run.load.server_requests.items())
        },
    }


def report(measured: Measured) -> dict[str, Any]:
    alone = summarise(measured.alone)
    lone_no_op = summarise(measured.lone_no_op)
    levels = [
        (
            level,
            summarise(level.sessions),
            summarise(level.no_ops),
            summarise(level.footprint_no_ops),
        )
        for level in measured.levels
    ]
    figures: dict[str, Any] = {
        "alone": alone,
        "lone_no_op": lone_no_op,
        "footprint_padding": dataclasses.asdict(measured.padding),
        "levels": {
            str(len(level.sessions.played)): {
                "sessions": sessions,
                "no_ops": no_ops,
                "footprint_no_ops": footprint_no_ops,
                "ratio": level.ratio,
                "ratio_own_shape": level.own_shape_ratio,
            }
            for level, sessions, no_ops, footprint_no_ops in levels
        },
    }
    rows = [(measured.alone, alone, "", ""), (measured.lone_no_op, lone_no_op, "", "")]
    for level, sessions, no_ops, footprint_no_ops in levels:
        rows += [
            (level.sessions, sessions, f"{level.ratio}x", f"{level.own_shape_ratio}x"),
            (level.no_ops, no_ops, "", ""),
            (level.footprint_no_ops, footprint_no_ops, "", ""),
        ]
    out = console()
    out.print(
        figures_table(
            "Sessions completed per minute, check-in to end (session wall time in s)",
            (
                "",
                "sessions",
                "window s",
                "per minute",
                "wall p50",
                "wall p99",
                "/ footprint no-ops",
                "/ own-shape no-ops",
            ),
            [
                [
                    run.label,
                    f["sessions"],
                    f["window_s"],
                    f["per_minute"],
                    f["session_wall"]["p50_s"],
                    f["session_wall"]["p99_s"],
                    ratio,
                    own_ratio,
                ]
                for run, f, ratio, own_ratio in rows
            ],
        )
    )
    padding = measured.padding
    out.print(
        f"The whole footprint's no-op adds follow-on workflows with {padding.activities}"
        f" activities and about {padding.workflow_tasks} workflow tasks to the session's own"
        " shape: what one session alone cost the dev server beyond a no-op of its own shape"
        " (the requests table compares the footprints)."
    )
    shapes = {
        name: {
            field: statistics.median(getattr(c, field) for c in found)
            for field in Counts.__dataclass_fields__
        }
        for name, found in measured.shapes.items()
    }
    out.print(
        figures_table(
            f"Shape per session (medians, {measured.levels[-1].sessions.label}): "
            "the no-op's against the session's",
            ("", *(field.replace("_", " ") for field in Counts.__dataclass_fields__)),
            [[name, *counted.values()] for name, counted in shapes.items()],
        )
    )
    out.print(loads_table([(run.label, run.load) for run, *_ in rows]))
    out.print(
        requests_table([(run.label, f["server_requests_per_session"]) for run, f, *_ in rows])
    )
    return {**figures, "shapes": shapes}


def requests_table(runs: Sequence[tuple[str, dict[str, float]]]) -> Table:
    """What each phase asked of the dev server, per session: where a session's work goes
    beyond its shape (its checks, queries, the workflows it starts)."""
    ordered = sorted(
        {operation for _, served in runs for operation in served},
        key=lambda operation: -max(served.get(operation, 0.0) for _, served in runs),
    )
    return figures_table(
        "Dev server requests per session, by operation (the workers' long polls aside)",
        ("", *(label for label, _ in runs)),
        [[operation, *(served.get(operation, 0.0) for _, served in runs)] for operation in ordered],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions", type=int, nargs="+", default=LEVELS, help="levels: sessions at once (10 50)"
    )
    args = parser.parse_args()
    if min(args.sessions) < 1:
        parser.error("--sessions must be at least 1")
    configure_logging("WARNING")  # the stack's chatter would bury the tables
    print(json.dumps(report(asyncio.run(measure(sorted(args.sessions))))))


if __name__ == "__main__":
    main()
