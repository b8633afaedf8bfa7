"""Wall time to simulate a one-year course on the time-skipping server, against a baseline.

    .venv/bin/python -m bench.course_simulation [--repeats N]        (make bench)

On one fresh simulation stack (embedded Postgres, time-skipping server, the project's worker),
after an unmeasured warm-up course, each repeat plays:
- the baseline: the non-responder, stopped at the review after its 8 induction sessions;
- the one-year course: the responder with 48 maintenance weeks (4 induction + 48 maintenance
  weeks of treatment, then the follow-up check-ins).
Prints medians, their ratio, the wall cost per session, the course's protocol span and its
history events per run (along the continue-as-new chain), as tables and as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from temporalio.testing import WorkflowEnvironment

from bench.live import history
from cli.localstack import child_workflow_ids, new_course_id, play, run_histories, simulation
from cli.room import ClinicApi
from cli.simulation import DEMO_PROTOCOL, PERSONAS, demo_course
from domain.contract import course_workflow_id
from domain.course import CourseStart
from worker.logs import configure_logging
from worker.settings import Settings

ONE_YEAR_PROTOCOL = DEMO_PROTOCOL.with_overrides(
    {"phases": {"maintenance_weeks": 48}}, version="bench-one-year"
)
ONE_YEAR, BASELINE = "responder", "non_responder"


@dataclass(frozen=True)
class Played:
    wall_s: float
    sessions: int
    span: timedelta
    """Protocol time from the course's start to its close."""
    events_per_run: list[int]
    session_events: list[int]
    """History events of each dosing session."""


def one_year_course() -> CourseStart:
    return demo_course(new_course_id("bench-year"), PERSONAS[ONE_YEAR], time_scale=1.0)


def baseline_course() -> CourseStart:
    return demo_course(new_course_id("bench-base"), PERSONAS[BASELINE], time_scale=1.0)


async def simulate(
    env: WorkflowEnvironment, clinic: ClinicApi, course: CourseStart, persona: str
) -> Played:
    began = time.perf_counter()
    await play(env, clinic, course, PERSONAS[persona])
    wall_s = time.perf_counter() - began
    runs = await run_histories(env.client, course_workflow_id(course.course_id))
    opened, closed = runs[0].events[0].event_time, runs[-1].events[-1].event_time
    # Event times are the server's (skipped) clock, i.e. real time; the course clock scales it.
    span = (closed.ToDatetime() - opened.ToDatetime()) / course.time_scale
    sessions = child_workflow_ids(runs)
    return Played(
        wall_s=wall_s,
        sessions=len(sessions),
        span=span,
        events_per_run=[len(run.events) for run in runs],
        session_events=[len(await history(env.client, session)) for session in sessions],
    )


async def measure(repeats: int) -> list[tuple[Played, Played]]:
    """(baseline, one-year) per repeat."""
    results = []
    with tempfile.TemporaryDirectory() as work:
        settings = Settings(state_dir=Path(work) / "state")  # a fresh dev key and tokens
        async with simulation(Path(work), settings, ONE_YEAR_PROTOCOL) as (env, clinic):
            # Warm-up: imports, first tasks.
            await simulate(env, clinic, baseline_course(), BASELINE)
            for _ in range(repeats):
                baseline = await simulate(env, clinic, baseline_course(), BASELINE)
                year = await simulate(env, clinic, one_year_course(), ONE_YEAR)
                results.append((baseline, year))
    return results


def summarise(played: list[Played]) -> dict[str, Any]:
    """Medians over the repeats (a course's start weekday shifts its sessions a little), and
    the events per run over every run of every repeat."""
    events = [length for p in played for length in p.events_per_run]
    return {
        "wall_s": round(statistics.median(p.wall_s for p in played), 3),
        "sessions": statistics.median(p.sessions for p in played),
        "wall_per_session_ms": round(
            statistics.median(p.wall_s / p.sessions for p in played) * 1000, 1
        ),
        "protocol_span_days": round(
            statistics.median(p.span / timedelta(days=1) for p in played), 1
        ),
        "runs": statistics.median(len(p.events_per_run) for p in played),
        "events_per_run_max": max(events),
        "events_per_run_mean": round(statistics.mean(events), 1),
        "events_per_session_max": max(e for p in played for e in p.session_events),
        "events_per_session_median": statistics.median(e for p in played for e in p.session_events),
    }


def report(results: list[tuple[Played, Played]]) -> dict[str, Any]:
    console = Console()
    per_repeat = Table(title="Wall time per repeat (s)")
    for column in ("repeat", "baseline", "one-year", "one-year / baseline"):
        per_repeat.add_column(column, justify="right")
    for number, (base_run, year_run) in enumerate(results, 1):
        ratio = year_run.wall_s / base_run.wall_s
        per_repeat.add_row(
            str(number), f"{base_run.wall_s:.2f}", f"{year_run.wall_s:.2f}", f"{ratio:.1f}"
        )
    console.print(per_repeat)

    baseline = summarise([b for b, _ in results])
    year = summarise([y for _, y in results])
    summary = Table(title=f"{len(results)} repeats: medians; events per run over all runs")
    summary.add_column("")
    summary.add_column(f"baseline ({BASELINE})", justify="right")
    summary.add_column(f"one-year ({ONE_YEAR}, 48 maintenance weeks)", justify="right")
    for key in year:
        summary.add_row(key.replace("_", " "), str(baseline[key]), str(year[key]))
    console.print(summary)
    ratio = round(year["wall_s"] / baseline["wall_s"], 2)
    console.print(f"one-year / baseline wall time: {ratio}x")
    return {"repeats": len(results), "baseline": baseline, "one_year": year, "ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="measured repeats (default 3)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    configure_logging("WARNING")  # the stack's start-up chatter would bury the tables
    figures = report(asyncio.run(measure(args.repeats)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
