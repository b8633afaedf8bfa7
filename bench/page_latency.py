"""Latency from a critical vitals reading POSTed to the API until the first page reaches the
pager endpoint, with 1, 10 and 100 sessions in the room, against the same readings' ack and
classification.

    .venv/bin/python -m bench.page_latency [--sessions 10 100] [--solo 20] [--criticals 30]
                                           [--every 10]                      (make bench-pages)

On one live stack (bench/live.py: the worker and the API each a process of its own) with the
pager provider set to PagerDuty's Events API v2, pointed at the local stand-in of
cli/standins.py, and the clinic's nurse, psychiatrist and director on call with a pager. Every
session is in post-dose monitoring (time_scale 1); a critical reading there raises a critical
escalation whose first rung pages the on-call nurse. A session pages once per condition (the
dedup key), so each session has four critical readings to give, one condition each (SpO2,
sedation, BP, crisis symptoms). After one unmeasured page from a session of its own:

- 1 session: `--solo` critical readings, one every 0.5 s, nothing else in the room;
- one phase per level of `--sessions`: every session's monitor gateway posts a normal reading
  every `--every` seconds (open loop, the sessions spread over the interval), and once each
  has posted, `--criticals` critical readings arrive among them, one every 0.5 s, each from
  the session with the most conditions still to give;
- the largest level once more with every session critical at once, on top of its routine
  readings: a stress figure (how long the last of a burst of pages waits), not a goal's.

"Paged" is when the stand-in receives the trigger event carrying the reading's id; the
baselines, for the same readings, are the POST's round trip ("ack") and the reading's
observations rows in Postgres ("classified", polled every 5 ms: bench/vitals_latency.py's
figure). Prints p50/p99 and ratios, the median of each stage (from the histories), and the
machine's load per phase, as tables and as one JSON line. The run ends within the policy's
first rung (5 min), so only first pages arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.api.enums.v1 import EventType

from bench.live import (
    EFFECT_TIMEOUT_S,
    GATEWAY_EVERY_S,
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
    run_all,
    settled,
    signals,
    stage_medians,
    wall_time,
    watching_observations,
)
from cli.oncall import DEMO_STAFF
from cli.simulation import DEMO_CLINIC
from cli.standins import PAGER_ROUTING_KEY, HttpProviders, http_providers
from domain.escalation import escalation_workflow_id
from domain.session import ReadingArrived
from store.oncall import Shift, add_shift
from worker.logs import configure_logging

CRITICAL: tuple[Mapping[str, object], ...] = (
    {"spo2": 85, "heart_rate": 88},
    {"moaas": 1, "cadss": 12},
    {"systolic": 210, "diastolic": 125, "heart_rate": 92},
    {"hypertensive_crisis_symptoms": True, "heart_rate": 95},
)
"""One critical condition each, the rest of the reading unremarkable."""
CLASSIFIED, PAGED = 0, 1
"""Effects of a reading, in the order they are awaited."""
CRITICAL_GAP_S = 0.5
AT_ONCE = "all at once"
SOLO = 20
CRITICALS = 30
STAGES = {
    "post_to_signal": "POST → reading_arrived signalled (API: stored, audited)",
    "signal_to_task": "signalled → the session's workflow task started",
    "task_to_escalation": "→ Escalation started (judged; the alert's rows, its start)",
    "escalation_to_page": "→ page received (the Escalation's first task)",
}
"""Consecutive stages from the reading's POST to its page."""
TASK_STARTED = EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
EAGER = "eager_start_share"
"""Of the measured escalations, the share whose first workflow task came eagerly."""


@asynccontextmanager
async def watching_pages(providers: HttpProviders) -> AsyncIterator[Arrivals]:
    """First trigger event per reading id, as the stand-in receives it."""
    arrivals = Arrivals()

    def arrived(event: dict[str, Any]) -> None:
        at = time.perf_counter()
        if event.get("event_action") != "trigger":
            return
        reading_id = event["payload"]["custom_details"].get("reading_id")
        if reading_id is not None:
            arrivals.arrived(int(reading_id), at)

    providers.on_pager_event = arrived
    try:
        yield arrivals
    finally:
        providers.on_pager_event = None


async def staff_on_call(pool: asyncpg.Pool) -> None:
    """The demo clinic's ladder on call now, each with a pager (the stand-in's routing key)."""
    now = datetime.now(UTC)
    for role, (who, name, phone) in DEMO_STAFF.items():
        shift = Shift(
            clinic_id=DEMO_CLINIC,
            role=role,
            staff_id=f"bench-{who}",
            display_name=name,
            phone=phone,
            pager_routing_key=PAGER_ROUTING_KEY,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
        )
        await add_shift(pool, shift)


class Conditions:
    """The critical conditions each room has still to give: a session pages once per
    condition while its escalation is open."""

    def __init__(self, rooms: Sequence[Room]) -> None:
        self._left = {room: list(CRITICAL) for room in rooms}

    def take(self, among: Sequence[Room]) -> tuple[Room, Mapping[str, object]]:
        """A condition of the room, among `among`, with the most left (the first such)."""
        room = max(among, key=lambda r: len(self._left[r]))
        if not self._left[room]:
            raise SystemExit(
                f"the {len(among)} sessions have no critical condition left to page for: "
                "ask for fewer --criticals or more --sessions"
            )
        return room, self._left[room].pop(0)


async def spaced(
    stack: Stack,
    effects: Sequence[Arrivals],
    picks: Sequence[tuple[Room, Mapping[str, object]]],
    gap_s: float,
) -> list[Sample]:
    """One critical reading per pick, the next `gap_s` after the one before (open loop)."""

    async def reading(index: int, room: Room, signs: Mapping[str, object]) -> Sample:
        await asyncio.sleep(index * gap_s)
        return await measured_reading(stack, room, signs, effects)

    return await run_all([reading(index, *pick) for index, pick in enumerate(picks)])


async def among_routine(
    stack: Stack,
    effects: Sequence[Arrivals],
    group: Sequence[Room],
    picks: Sequence[tuple[Room, Mapping[str, object]]],
    every_s: float,
    gap_s: float,
    how: str = "",
) -> Phase:
    """The picks' critical readings, `gap_s` apart, once every session of `group` has posted
    a routine reading from its gateway; the gateways go on until the last one has paged."""
    async with measuring_load(stack) as load, gateways(stack, group, every_s) as routine:
        await asyncio.sleep(every_s)
        samples = await spaced(stack, effects, picks, gap_s)
    return Phase(len(group), samples, load[0], len(routine), how)


async def measure(
    levels: Sequence[int], solo: int, criticals: int, every_s: float
) -> tuple[dict[str, Phase], dict[str, dict[str, float]]]:
    """The solo phase, one phase per level of sessions in the room (smallest first), the
    largest all at once, and their stage medians."""
    largest = max(levels)
    with tempfile.TemporaryDirectory() as work:
        async with (
            http_providers() as providers,
            live_stack(
                Path(work), pager_provider="pagerduty", pagerduty_events_base=providers.url
            ) as stack,
        ):
            await staff_on_call(stack.pool)
            *rooms, spare = await in_monitoring_many(stack, "bench-pages", max(largest, solo) + 1)
            conditions = Conditions(rooms)
            async with (
                watching_observations(stack.pool) as classified,
                watching_pages(providers) as paged,
            ):
                effects = (classified, paged)  # CLASSIFIED, PAGED
                await warmed_up(stack, effects, spare)
                await settled()
                # The last rooms: the levels' criticals start with the first.
                alone_in = rooms[-solo:]
                picks = [conditions.take(alone_in) for _ in range(solo)]
                async with measuring_load(stack) as solo_load:
                    alone = await spaced(stack, effects, picks, CRITICAL_GAP_S)
                phases = {"1": Phase(1, alone, solo_load[0])}
                for level in sorted(set(levels)):
                    group = rooms[:level]
                    picks = [conditions.take(group) for _ in range(criticals)]
                    phases[str(level)] = await among_routine(
                        stack, effects, group, picks, every_s, CRITICAL_GAP_S
                    )
                group = rooms[:largest]
                picks = [conditions.take([room]) for room in group]
                phases[f"{largest} {AT_ONCE}"] = await among_routine(
                    stack, effects, group, picks, every_s, 0.0, AT_ONCE
                )
            stage_figures = {
                name: await stages(stack, phase.samples) for name, phase in phases.items()
            }
    return phases, stage_figures


async def warmed_up(stack: Stack, effects: Sequence[Arrivals], room: Room) -> None:
    """One page, unmeasured (first connections, first escalation); fails early, saying why,
    when a critical reading pages nobody."""
    try:
        await measured_reading(stack, room, CRITICAL[0], effects)
    except TimeoutError:
        raise SystemExit(
            f"no page reached the pager stand-in within {EFFECT_TIMEOUT_S:g} s of a critical "
            "reading: are the session's alerts wired to the Escalation workflow?"
        ) from None


# --- Where the time goes ---------------------------------------------------------------------


async def stages(stack: Stack, samples: Sequence[Sample]) -> dict[str, float]:
    """Median ms of each stage, from the session's and the escalation's histories, and the
    share of escalations the server started eagerly (`EAGER`)."""
    by_reading = {s.posted.reading_id: s for s in samples}
    escalations = {
        row["reading_id"]: escalation_workflow_id(row["dedup_key"])
        for row in await stack.pool.fetch(
            "SELECT reading_id, dedup_key FROM alerts WHERE reading_id = ANY($1::bigint[])",
            list(by_reading),
        )
    }
    marks: list[tuple[float, ...]] = []
    eager: list[bool] = []
    for workflow_id in sorted({s.room.workflow_id for s in samples}):
        events = await history(stack.client, workflow_id)
        for signalled in signals(events, "reading_arrived"):
            [reading] = await stack.client.data_converter.decode(
                signalled.workflow_execution_signaled_event_attributes.input.payloads,
                [ReadingArrived],
            )
            sample = by_reading.get(reading.reading_id)
            if sample is None or reading.reading_id not in escalations:
                continue  # the warm-up, or the other phase's
            escalation = await history(stack.client, escalations[reading.reading_id])
            started = escalation[0].workflow_execution_started_event_attributes
            eager.append(started.eager_execution_accepted)
            marks.append(
                (
                    sample.posted.sent + WALL_OFFSET,
                    wall_time(signalled),
                    wall_time(first(events[signalled.event_id :], TASK_STARTED)),
                    wall_time(escalation[0]),
                    sample.seen[PAGED] + WALL_OFFSET,
                )
            )
    share = round(sum(eager) / len(eager), 2) if eager else 0.0
    return {**stage_medians(list(STAGES), marks), EAGER: share}


# --- Report ----------------------------------------------------------------------------------


def summarise(phase: Phase, stages: dict[str, float]) -> dict[str, Any]:
    samples = phase.samples
    ack = percentiles([s.ack_s for s in samples])
    classified = percentiles([s.effect_s(CLASSIFIED) for s in samples])
    paged = percentiles([s.effect_s(PAGED) for s in samples])
    gap = statistics.median(s.seen[PAGED] - s.seen[CLASSIFIED] for s in samples)
    return {
        "sessions": phase.sessions,
        "how": phase.how,
        "readings": len(samples),
        "routine_per_s": phase.routine_per_s,
        "ack": ack,
        "classified": classified,
        "paged": paged,
        "classified_to_paged_p50_ms": ms(gap),
        "paged_over_ack_p50": round(paged["p50_ms"] / ack["p50_ms"], 2),
        "paged_over_classified_p50": round(paged["p50_ms"] / classified["p50_ms"], 2),
        "paged_over_classified_p99": round(paged["p99_ms"] / classified["p99_ms"], 2),
        "stages_p50_ms": stages,
        "paged_ms": sorted(ms(s.effect_s(PAGED)) for s in samples),
        "ack_ms": sorted(ms(s.ack_s) for s in samples),
        "wall_s": phase.load.wall_s,
        "cpu_cores": phase.load.cores,
        "loop_lag_ms": phase.load.loop_lag_ms,
    }


def report(phases: dict[str, Phase], stages: dict[str, dict[str, float]]) -> dict[str, Any]:
    figures = {name: summarise(phase, stages[name]) for name, phase in phases.items()}
    columns = (
        "ack p50 / p99",
        "classified p50 / p99",
        "paged p50 / p99",
        "classified → paged p50",
        "paged / ack p50",
        "paged / classified p50 / p99",
    )
    rows = [
        [
            phase.label,
            f["readings"],
            f"{f['ack']['p50_ms']} / {f['ack']['p99_ms']}",
            f"{f['classified']['p50_ms']} / {f['classified']['p99_ms']}",
            f"{f['paged']['p50_ms']} / {f['paged']['p99_ms']}",
            f["classified_to_paged_p50_ms"],
            f"{f['paged_over_ack_p50']}x",
            f"{f['paged_over_classified_p50']}x / {f['paged_over_classified_p99']}x",
        ]
        for phase, f in zip(phases.values(), figures.values(), strict=True)
    ]
    out = console()
    title = "Critical reading: POST → first page at the pager endpoint (ms)"
    out.print(figures_table(title, ("", "readings", *columns), rows))
    out.print(
        figures_table(
            "Median per stage (ms), after the reading is classified: wall clock against the "
            "server's event times",
            ("stage", *(phase.label for phase in phases.values())),
            [
                [text, *(f["stages_p50_ms"].get(key, "-") for f in figures.values())]
                for key, text in {**STAGES, EAGER: "escalations started eagerly (share)"}.items()
            ],
        )
    )
    out.print(load_table(list(phases.values())))
    out.print(
        "paged = the trigger event received by the PagerDuty stand-in; classified = the "
        "reading's observations rows seen in Postgres (polled every "
        f"{OBSERVATION_POLL_S * 1000:g} ms); ack = the POST round trip"
    )
    return {**figures, "poll_ms": OBSERVATION_POLL_S * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions",
        type=int,
        nargs="+",
        default=[10, 100],
        help="levels of concurrent sessions, one phase each (10 100)",
    )
    parser.add_argument(
        "--solo", type=int, default=SOLO, help=f"critical readings one at a time ({SOLO})"
    )
    parser.add_argument(
        "--criticals",
        type=int,
        default=CRITICALS,
        help=f"critical readings among each level's routine ones ({CRITICALS})",
    )
    parser.add_argument(
        "--every",
        type=float,
        default=GATEWAY_EVERY_S,
        help=f"seconds between one session's routine readings ({GATEWAY_EVERY_S:g})",
    )
    args = parser.parse_args()
    if min(*args.sessions, args.solo, args.criticals) < 1 or args.every <= 0:
        parser.error("--sessions, --solo and --criticals must be at least 1, --every above 0")
    # Every critical reading logs its alert and page as warnings: they would bury the tables.
    configure_logging("ERROR")
    figures = report(*asyncio.run(measure(args.sessions, args.solo, args.criticals, args.every)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
