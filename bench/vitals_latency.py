"""Latency from a vitals reading POSTed to the API until its session has judged and recorded
it, with 1 and with many concurrent sessions, against the API's own store-and-ack.

    .venv/bin/python -m bench.vitals_latency [--sessions 50] [--solo 40] [--each 6]
                                             [--every 10]                  (make bench-vitals)

On one live stack (bench/live.py: dev server, embedded Postgres, the worker and the API each a
process of its own, the API over real HTTP), every session in post-dose monitoring
(time_scale 1, so monitoring outlasts the run); the session judges each reading when its
signal arrives. "Recorded" is when the reading's `observations` rows are committed, seen by
polling Postgres every 5 ms; "ack" (the baseline) is the POST's round trip: stored in
Postgres, the session signalled, audited, answered.

- solo: one session, `--solo` normal readings one after another, each once the one before
  is recorded (after 2 unmeasured);
- concurrent: `--sessions` sessions in the room, each one's monitor gateway posting a normal
  reading every `--every` seconds (open loop, the sessions spread over the interval), until
  each has posted `--each`.

Prints p50/p99 and their ratios, the median time of each stage of the path (from the
sessions' histories), and the CPU and event-loop lag per phase, as tables and as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.live import (
    GATEWAY_EVERY_S,
    NORMAL,
    OBSERVATION_POLL_S,
    WALL_OFFSET,
    Arrivals,
    Phase,
    Room,
    Sample,
    Stack,
    console,
    figures_table,
    first,
    gateways,
    history,
    in_monitoring_many,
    live_stack,
    load_table,
    measured_reading,
    measuring_load,
    ms,
    percentiles,
    settled,
    stage_medians,
    wall_time,
    watching_observations,
)
from domain.session import ReadingArrived
from worker.logs import configure_logging

RECORDED = 0
"""The one effect awaited per reading."""
SOLO_WARM_UP = 2
STAGES = {
    "api_to_signal": "POST → signal recorded (API)",
    "signal_to_task": "signal → workflow task started",
    "task_to_rows": "workflow task → rows seen (judged, recorded by its local activity)",
}
"""Consecutive stages of a reading's path, from the POST to its observations rows."""


async def readings(stack: Stack, recorded: Arrivals, room: Room, count: int) -> list[Sample]:
    samples = []
    for _ in range(SOLO_WARM_UP + count):
        samples.append(await measured_reading(stack, room, NORMAL, [recorded]))
    return samples[SOLO_WARM_UP:]


async def measure(
    sessions: int, solo: int, each: int, every_s: float
) -> tuple[dict[str, Phase], dict[str, dict[str, float]]]:
    """The solo and concurrent phases, and their stage medians."""
    with tempfile.TemporaryDirectory() as work:
        async with live_stack(Path(work)) as stack:
            rooms = await in_monitoring_many(stack, "bench-vitals", sessions)
            await settled()
            async with watching_observations(stack.pool) as recorded:
                async with measuring_load(stack) as solo_load:
                    alone = await readings(stack, recorded, rooms[0], solo)
                async with (
                    measuring_load(stack) as many_load,
                    gateways(stack, rooms, every_s, [recorded]) as together,
                ):
                    # The last gateway's `each`-th reading goes out just before this ends.
                    await asyncio.sleep(every_s * (each - 1) + every_s * (sessions - 1) / sessions)
            phases = {
                "solo": Phase(1, alone, solo_load[0]),
                "concurrent": Phase(sessions, together, many_load[0], len(together)),
            }
            stage_figures = {
                name: await stages(stack.client, phase.samples) for name, phase in phases.items()
            }
    return phases, stage_figures


# --- Where the time goes ---------------------------------------------------------------------


async def stages(client: Client, samples: Sequence[Sample]) -> dict[str, float]:
    """Median ms of each stage, from the sessions' histories (server event times)."""
    by_reading = {s.posted.reading_id: s for s in samples}
    marks: list[tuple[float, ...]] = []
    for workflow_id in sorted({s.room.workflow_id for s in samples}):
        events = await history(client, workflow_id)
        for index, event in enumerate(events):
            attributes = event.workflow_execution_signaled_event_attributes
            if (
                event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
                or attributes.signal_name != "reading_arrived"
            ):
                continue
            [arrived] = await client.data_converter.decode(
                attributes.input.payloads, [ReadingArrived]
            )
            sample = by_reading.get(arrived.reading_id)
            if sample is None:
                continue  # set-up, warm-up, or the other phase's
            later = events[index + 1 :]
            marks.append(
                (
                    sample.posted.sent + WALL_OFFSET,
                    wall_time(event),
                    wall_time(first(later, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)),
                    sample.seen[RECORDED] + WALL_OFFSET,
                )
            )
    return stage_medians(list(STAGES), marks)


# --- Report ----------------------------------------------------------------------------------


def summarise(phase: Phase, stages: dict[str, float]) -> dict[str, Any]:
    ack = percentiles([s.ack_s for s in phase.samples])
    recorded = percentiles([s.effect_s(RECORDED) for s in phase.samples])
    return {
        "sessions": phase.sessions,
        "readings": len(phase.samples),
        "readings_per_s": phase.routine_per_s,
        "ack": ack,
        "recorded": recorded,
        "ratio_p50": round(recorded["p50_ms"] / ack["p50_ms"], 2),
        "ratio_p99": round(recorded["p99_ms"] / ack["p99_ms"], 2),
        "stages_p50_ms": stages,
        "recorded_ms": sorted(ms(s.effect_s(RECORDED)) for s in phase.samples),
        "ack_ms": sorted(ms(s.ack_s) for s in phase.samples),
        "wall_s": phase.load.wall_s,
        "cpu_cores": phase.load.cores,
        "loop_lag_ms": phase.load.loop_lag_ms,
    }


def report(phases: dict[str, Phase], stages: dict[str, dict[str, float]]) -> dict[str, Any]:
    figures = {name: summarise(phase, stages[name]) for name, phase in phases.items()}
    out = console()
    columns = ("ack p50", "ack p99", "recorded p50", "recorded p99", "ratio p50", "ratio p99")
    rows = [
        [
            phase.label,
            f["readings"],
            f["ack"]["p50_ms"],
            f["ack"]["p99_ms"],
            f["recorded"]["p50_ms"],
            f["recorded"]["p99_ms"],
            f"{f['ratio_p50']}x",
            f"{f['ratio_p99']}x",
        ]
        for phase, f in zip(phases.values(), figures.values(), strict=True)
    ]
    title = "Vitals reading: POST → classified and recorded (ms)"
    out.print(figures_table(title, ("", "readings", *columns), rows))
    out.print(
        figures_table(
            "Median per stage (ms): wall clock against the server's event times",
            ("stage", *(phase.label for phase in phases.values())),
            [
                [text, *(f["stages_p50_ms"].get(key, "-") for f in figures.values())]
                for key, text in STAGES.items()
            ],
        )
    )
    out.print(load_table(list(phases.values())))
    out.print(
        "recorded = the reading's observations rows seen in Postgres (polled every "
        f"{OBSERVATION_POLL_S * 1000:g} ms); ack = the POST round trip (stored, signalled, "
        "audited); ratio = recorded / ack"
    )
    return {
        **figures,
        "recorded_seen_by": "observations rows by reading_id",
        "poll_ms": OBSERVATION_POLL_S * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50, help="concurrent sessions (50)")
    parser.add_argument("--solo", type=int, default=40, help="readings, one session (40)")
    parser.add_argument("--each", type=int, default=6, help="readings per concurrent session (6)")
    parser.add_argument(
        "--every",
        type=float,
        default=GATEWAY_EVERY_S,
        help=f"seconds between one session's readings, concurrent ({GATEWAY_EVERY_S:g})",
    )
    args = parser.parse_args()
    if min(args.sessions, args.solo, args.each) < 1 or args.every <= 0:
        parser.error("--sessions, --solo and --each must be at least 1, --every above 0")
    configure_logging("WARNING")  # the stack's chatter would bury the tables
    figures = report(*asyncio.run(measure(args.sessions, args.solo, args.each, args.every)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
