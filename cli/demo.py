"""`trdflow demo`: three simulated patients' courses, played by a simulated clinic, watched live."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import typer
from rich.live import Live
from rich.table import Column, Table
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from api.tokens import read_or_create_dev_tokens
from cli import options, simulation
from cli.errors import INVALID_INPUT, CliError, reported
from cli.render import console, named, phase, score
from cli.room import ClinicApi
from cli.runtime import course_status, open_client, ui_link
from cli.simulation import Persona
from domain.course import CourseStart, CourseStatus
from domain.scales import Scale
from worker.client import SimulationNotAllowedError, start_course
from worker.settings import Settings, get_settings

REFRESH = timedelta(seconds=1)
API_TIMEOUT = timedelta(seconds=30)
DEMO_NURSE = "nurse-demo"
DAY_IN_A_SECOND = 1 / 86_400


async def now() -> datetime:
    return datetime.now(UTC)


async def advance(duration: timedelta) -> None:
    await asyncio.sleep(duration.total_seconds())


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
    run_id = secrets.token_hex(3)
    courses = [
        (
            simulation.demo_course(
                f"{prefix}-{run_id}-{key.replace('_', '-')}", persona, time_scale
            ),
            persona,
        )
        for key, persona in simulation.PERSONAS.items()
    ]
    try:
        asyncio.run(_play(settings, courses))
    except SimulationNotAllowedError as err:
        raise CliError(f"{err}, or pass --allow-simulation", INVALID_INPUT) from err
    except KeyboardInterrupt:
        console.print("Stopped the clinic players: the courses live on in Temporal.")
        raise typer.Exit(130) from None


async def _play(settings: Settings, courses: Sequence[tuple[CourseStart, Persona]]) -> None:
    client = await open_client(settings)
    for start, _ in courses:
        handle = await start_course(client, start, settings)
        console.print(f"{start.course_id}: {ui_link(settings, handle.id)}", soft_wrap=True)
    async with _signed_in_api(settings) as http:
        await _watch(client, ClinicApi(http), courses)


def _signed_in_api(settings: Settings) -> httpx.AsyncClient:
    """The running HTTP API, signed in as the demo nurse (from the local stack's token file)."""
    tokens = read_or_create_dev_tokens(settings.api_token_file)
    token = next(token for token, who in tokens.items() if who.actor == DEMO_NURSE)
    return httpx.AsyncClient(
        base_url=f"http://{settings.api_host}:{settings.api_port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=API_TIMEOUT.total_seconds(),
    )


async def _watch(
    client: Client, api: ClinicApi, courses: Sequence[tuple[CourseStart, Persona]]
) -> None:
    ids = [start.course_id for start, _ in courses]
    players = asyncio.gather(
        *(
            simulation.play_course(client, api, start.course_id, persona, now=now, advance=advance)
            for start, persona in courses
        )
    )
    latest: dict[str, CourseStatus] = {}
    try:
        with Live(_table(ids, latest), console=console, auto_refresh=False) as live:
            while not players.done():
                latest.update(await _statuses(client, ids, latest))
                live.update(_table(ids, latest), refresh=True)
                await asyncio.wait([players], timeout=REFRESH.total_seconds())
            latest.update(zip(ids, players.result(), strict=True))
            live.update(_table(ids, latest), refresh=True)
    finally:
        # On Ctrl-C (or a failed player) stop the players and collect them: none left behind.
        players.cancel()
        await asyncio.gather(players, return_exceptions=True)


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


def _table(ids: Sequence[str], latest: dict[str, CourseStatus]) -> Table:
    table = Table(
        Column("Course", no_wrap=True),
        "Phase",
        "Awaiting",
        "Dosed",
        "Frequency",
        "PHQ-9",
        "Outcome",
        title="Demo: the clinic is simulated, the courses are real workflows",
    )
    for course_id in ids:
        status = latest.get(course_id)
        if status is None:
            table.add_row(course_id, "starting", *["-"] * 5)
            continue
        table.add_row(
            course_id,
            phase(status),
            named(status.awaiting),
            str(status.sessions_done),
            named(status.frequency),
            score(status, Scale.PHQ9, with_baseline=False),
            status.final_reason or "-",
        )
    return table
