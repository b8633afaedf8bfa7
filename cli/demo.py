"""`trdflow demo`: four simulated patients' courses, played by a simulated clinic, watched live.

The clinic works as real clients do: staff and devices through the HTTP API, clinicians through
the course's Updates, and the on-call nurse through the on-call console. It ends with a table
of where each patient got to and why; a player that cannot go on says why in one line.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import httpx
import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError

from cli import options, simulation
from cli.console_player import ConsoleNurse, Handled
from cli.devtokens import NURSE
from cli.errors import INVALID_INPUT, CliError, reported
from cli.render import console, named, phase, score
from cli.room import ApiRefusal, ClinicApi, Stalled, bearer, token_of, wall_advance, wall_now
from cli.runtime import course_status, open_client, ui_link
from cli.simulation import ClinicPlayer
from domain.course import CourseStart, CourseStatus
from domain.escalation import EscalationChanged
from domain.protocol import Frequency
from domain.scales import Scale
from worker.client import SimulationNotAllowedError, start_course
from worker.settings import Settings, get_settings

REFRESH = timedelta(seconds=1)
API_TIMEOUT = timedelta(seconds=30)
DAY_IN_A_SECOND = 1 / 86_400
GAVE_UP = (
    Stalled,
    ApiRefusal,
    RPCError,
    WorkflowUpdateFailedError,
    WorkflowQueryFailedError,
    httpx.HTTPError,
)
"""What stops a player: said in its row, in one line."""


@dataclass(frozen=True)
class DemoCourse:
    persona: str
    start: CourseStart

    @property
    def course_id(self) -> str:
        return self.start.course_id


@dataclass(frozen=True)
class Outcome:
    """Where a simulated patient got to."""

    persona: str
    course_id: str
    status: CourseStatus | None
    """The last status read (None if none could be)."""
    escalations: list[str]
    """Each escalation of the course, one line each."""
    frequency_changes: list[Frequency]
    """The maintenance frequencies the clinician moved to, in order."""
    error: str | None = None
    """Why the player gave up, if it did."""


def demo_courses(prefix: str, time_scale: float) -> list[DemoCourse]:
    """One course per persona: `<prefix>-<random>-<persona>`."""
    run_id = secrets.token_hex(3)
    return [
        DemoCourse(
            key,
            simulation.demo_course(
                f"{prefix}-{run_id}-{key.replace('_', '-')}", persona, time_scale
            ),
        )
        for key, persona in simulation.PERSONAS.items()
    ]


@reported
def demo(
    time_scale: Annotated[
        float, typer.Option(help="Protocol clock factor: 1/86400 makes a day last a second.")
    ] = DAY_IN_A_SECOND,
    prefix: Annotated[
        str, typer.Option(help="Course ids are <prefix>-<random>-<persona>.", callback=options.ref)
    ] = "demo",
    allow_simulation: Annotated[
        bool,
        typer.Option(
            "--allow-simulation", help="Allow the compressed clock (else TRDFLOW_ALLOW_SIMULATION)."
        ),
    ] = False,
) -> None:
    """Start one course per simulated patient and play the clinic's part until they end."""
    settings = get_settings()
    if allow_simulation:
        settings = settings.model_copy(update={"allow_simulation": True})
    try:
        outcomes = asyncio.run(play_demo(settings, demo_courses(prefix, time_scale)))
    except SimulationNotAllowedError as err:
        raise CliError(f"{err}, or pass --allow-simulation", INVALID_INPUT) from err
    except httpx.HTTPError as err:
        raise CliError(
            f"the HTTP API at {_api_url(settings)} does not answer ({err}): is `make run` up?"
        ) from err
    except KeyboardInterrupt:
        console.print("Stopped the clinic players: the courses live on in Temporal.")
        raise typer.Exit(130) from None
    failed = [outcome for outcome in outcomes if outcome.error]
    if failed:
        first = failed[0]
        raise CliError(
            f"{len(failed)} of {len(outcomes)} courses could not be played to their end; "
            f"{first.persona}: {first.error}"
        )


async def play_demo(settings: Settings, courses: Sequence[DemoCourse]) -> list[Outcome]:
    """Start the courses and play them to their end against the stack `settings` point at,
    showing their table as they go."""
    client = await open_client(settings)
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(_api_client(settings, bearer(settings, NURSE)))
        # Before any course starts: without the API the clinic could play none of them.
        (await http.get("/healthz")).raise_for_status()
        for course in courses:
            handle = await start_course(client, course.start, settings)
            console.print(f"{course.course_id}: {ui_link(settings, handle.id)}", soft_wrap=True)
        console.print(
            f"On-call console: {_api_url(settings)}/console (sign in with {NURSE}'s token from "
            f"{settings.api_token_file}): {NURSE} answers the demo's pages there.",
            soft_wrap=True,
        )
        nurse = ConsoleNurse(
            await stack.enter_async_context(_api_client(settings, {})),
            token_of(settings, NURSE),
            say=lambda line: console.print(escape(line), soft_wrap=True),
        )
        players = {
            course.course_id: ClinicPlayer(
                client,
                ClinicApi(http),
                course.course_id,
                simulation.PERSONAS[course.persona],
                now=wall_now,
                advance=wall_advance,
                on_call=nurse,
            )
            for course in courses
        }
        return await _watch(client, courses, players, nurse)


def _api_url(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}"


def _api_client(settings: Settings, headers: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=_api_url(settings), headers=headers, timeout=API_TIMEOUT.total_seconds()
    )


async def _watch(
    client: Client,
    courses: Sequence[DemoCourse],
    players: dict[str, ClinicPlayer],
    nurse: ConsoleNurse,
) -> list[Outcome]:
    errors: dict[str, str] = {}

    async def play(course_id: str) -> CourseStatus | None:
        try:
            return await players[course_id].play()
        except GAVE_UP as err:
            errors[course_id] = (str(err).splitlines() or [type(err).__name__])[0]
            return None

    tasks = {course_id: asyncio.create_task(play(course_id)) for course_id in players}
    latest: dict[str, CourseStatus] = {}

    def outcomes() -> list[Outcome]:
        return [
            Outcome(
                persona=course.persona,
                course_id=course.course_id,
                status=latest.get(course.course_id),
                escalations=_escalations(
                    players[course.course_id].escalations,
                    nurse.handled.get(course.course_id, {}),
                ),
                frequency_changes=[
                    change.frequency for change in players[course.course_id].frequency_changes
                ],
                error=errors.get(course.course_id),
            )
            for course in courses
        ]

    try:
        # On a terminal the table updates in place; piped, only the final one is printed.
        with Live(_table(outcomes(), done=False), console=console, auto_refresh=False) as live:
            while not all(task.done() for task in tasks.values()):
                latest.update(await _statuses(client, list(tasks), latest))
                live.update(_table(outcomes(), done=False), refresh=True)
                await asyncio.wait(tasks.values(), timeout=REFRESH.total_seconds())
            for course_id, task in tasks.items():
                if (final := task.result()) is not None:
                    latest[course_id] = final
            live.update(_table(outcomes(), done=True), refresh=True)
        if not console.is_terminal:
            console.line()  # piped, the table ends without one
    finally:
        # On Ctrl-C (or a failing player) stop the players and collect them: none left behind.
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    return outcomes()


async def _statuses(
    client: Client, ids: Sequence[str], latest: dict[str, CourseStatus]
) -> dict[str, CourseStatus]:
    async def one(course_id: str) -> CourseStatus | None:
        try:
            return await course_status(client, course_id)
        except (RPCError, WorkflowQueryFailedError):
            # Between runs (continue-as-new) or on a busy worker: keep the last known row.
            return latest.get(course_id)

    found = await asyncio.gather(*(one(course_id) for course_id in ids))
    return {course_id: status for course_id, status in zip(ids, found, strict=True) if status}


def _escalations(seen: dict[str, EscalationChanged], handled: dict[str, Handled]) -> list[str]:
    """One line per escalation: those the nurse answered, and any other seen open."""
    lines = [
        f"{h.severity} {named(h.condition)}, session {h.session}: paged {h.paged}, "
        f"acknowledged by {h.acknowledged_by}" + (", resolved" if h.resolved else "")
        for h in handled.values()
    ]
    lines += [
        f"{e.severity.value} {named(e.condition)}"
        + (f", session {e.session}" if e.session is not None else "")
        + f": {named(e.status.value)}"
        for escalation_id, e in seen.items()
        if escalation_id not in handled
    ]
    return lines


def _table(outcomes: Sequence[Outcome], *, done: bool) -> Table:
    """The live table, or (`done`) where each patient got to and why."""
    table = Table(
        "Patient",
        "Phase",
        *([] if done else ["Awaiting"]),
        "Dosed",
        "Frequency",
        "PHQ-9",
        "Outcome",
        "Escalations",
        title=(
            "Where each simulated patient got to, and why"
            if done
            else "Demo: the clinic is simulated, the courses are real workflows"
        ),
    )
    for outcome in outcomes:
        status = outcome.status
        patient = f"{named(outcome.persona)}\n[dim]{outcome.course_id}[/dim]"
        reason = f"gave up: {escape(outcome.error)}" if outcome.error else None
        escalations = escape("\n".join(outcome.escalations)) or "-"
        if status is None:
            cells = ["starting", *([] if done else ["-"]), "-", "-", "-"]
        else:
            cells = [
                phase(status),
                *([] if done else [named(status.awaiting)]),
                str(status.sessions_done),
                # Over, the course has no frequency: the changes say where it went.
                " → ".join(named(f) for f in outcome.frequency_changes) or "-"
                if done
                else named(status.frequency),
                score(status, Scale.PHQ9, with_baseline=False),
            ]
            reason = reason or escape(status.final_reason or "") or None
        table.add_row(patient, *cells, reason or "-", escalations)
    return table
