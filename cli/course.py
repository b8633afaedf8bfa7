"""`trdflow course`: start courses, read them, and send them clinic events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
import typer
from rich.table import Column, Table
from temporalio.client import WorkflowExecution

from api.audit import audited
from cli import events, options
from cli.caller import NOT_PERMITTED, caller
from cli.errors import CliError, reported
from cli.inputs import build
from cli.render import console, echo_json, named, status_panel, when
from cli.runtime import course_reader, course_status, open_client, ui_link, with_pool
from domain.access import Permission
from domain.contract import (
    CLINIC_ID,
    COURSE_PHASE,
    COURSE_WORKFLOW_TYPE,
    NEXT_SESSION_AT,
    PATIENT_REF,
)
from domain.course import CourseStart, CourseStatus, Phase
from domain.protocol import Indication
from store.patients import admit
from worker.client import check_simulation, start_course
from worker.settings import get_settings

app = typer.Typer(help="Treatment courses: start, read, and record clinic events.")
app.add_typer(events.app)


@app.command()
@reported
def start(
    file: options.File = None,
    course_id: Annotated[str | None, typer.Option(help="Pseudonymous course id.")] = None,
    patient_ref: Annotated[str | None, typer.Option(help="Pseudonymous patient ref.")] = None,
    clinic_id: Annotated[str | None, typer.Option(help="The clinic's id.")] = None,
    name: Annotated[str | None, typer.Option(help="Patient's name (encrypted PHI).")] = None,
    phone: Annotated[str | None, typer.Option(help="Patient's phone, E.164 (PHI).")] = None,
    dob: Annotated[str | None, typer.Option(help="Date of birth, YYYY-MM-DD (PHI).")] = None,
    email: Annotated[str | None, typer.Option(help="Patient's e-mail (PHI).")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="The clinic's IANA zone [default: America/New_York].")
    ] = None,
    indication: Annotated[Indication | None, typer.Option(help="[default: trd]")] = None,
    time_scale: Annotated[
        float | None,
        typer.Option(help="Protocol clock factor, simulation only (TRDFLOW_ALLOW_SIMULATION)."),
    ] = None,
) -> None:
    """Start a course from --file (a CourseStart JSON) or from the options."""
    fields: dict[str, Any] = {
        "course_id": course_id,
        "patient_ref": patient_ref,
        "clinic_id": clinic_id,
        "clinic_timezone": timezone,
        "indication": indication,
        "time_scale": time_scale,
        "patient": {"name": name, "phone": phone, "date_of_birth": dob, "email": email},
    }
    course = build(CourseStart, file, fields)
    settings = get_settings()
    check_simulation(course, settings)  # bad input, refused before anything is looked up

    async def begin(pool: asyncpg.Pool) -> str:
        who = await caller(pool, settings, Permission.START_COURSE)
        if not who.covers(course.clinic_id):
            raise CliError(f"{who.actor} may not act for {course.clinic_id}", NOT_PERMITTED)
        async with pool.acquire() as conn, conn.transaction():
            refusal = await admit(conn, course)
            if refusal is not None:
                raise CliError(refusal)
            await audited(
                conn, who, "cli.course_start_requested", course.course_id, course.clinic_id
            )
        started = await start_course(await open_client(settings), course, settings)
        await audited(pool, who, "cli.course_started", course.course_id, course.clinic_id)
        return started.id

    workflow_id = with_pool(begin, settings)
    # The operator's summary names the patient by ref only: no PHI on the terminal.
    rows = Table.grid(padding=(0, 2))
    rows.add_column(style="bold cyan")
    rows.add_row("Workflow", workflow_id)
    rows.add_row("Patient ref", course.patient_ref)
    rows.add_row("Clinic", f"{course.clinic_id} ({course.clinic_timezone})")
    rows.add_row("Indication", named(course.indication.value))
    rows.add_row("Protocol", "the clinic's current version (`trdflow protocol show`)")
    if course.time_scale != 1:
        rows.add_row("Time scale", f"{course.time_scale:g} (simulation)")
    rows.add_row("Temporal UI", ui_link(settings, workflow_id))
    console.print(f"[green]✓[/green] course {course.course_id} started, awaiting its assessment")
    console.print(rows)


@app.command()
@reported
def status(course_id: options.CourseId, as_json: options.Json = False) -> None:
    """The course's phase, sessions, scores and what it is waiting for."""
    settings = get_settings()

    async def read(pool: asyncpg.Pool) -> CourseStatus:
        reader = await course_reader(pool, settings, course_id)
        await audited(pool, reader.who, "cli.course_read", course_id, reader.clinic_id)
        return await course_status(await open_client(settings), course_id)

    result = with_pool(read, settings)
    if as_json:
        echo_json(result)
    else:
        console.print(status_panel(result))


@app.command("list")
@reported
def list_courses(
    phase: Annotated[Phase | None, typer.Option(help="Only courses in this phase.")] = None,
    clinic: Annotated[
        str | None, typer.Option(help="Only this clinic's courses.", callback=options.ref)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: options.Json = False,
) -> None:
    """Find courses by phase and clinic (Temporal visibility, search attributes), among the
    clinics of TRDFLOW_TOKEN's holder."""
    settings = get_settings()

    async def find(pool: asyncpg.Pool) -> list[dict[str, Any]]:
        who = await caller(pool, settings, Permission.READ_COURSE)
        query = visibility_query(phase, clinic, who.clinic_filter)
        client = await open_client(settings)
        return [_row(execution) async for execution in client.list_workflows(query, limit=limit)]

    rows = with_pool(find, settings)
    if as_json:
        echo_json(rows)
        return
    table = Table(
        Column("Workflow", no_wrap=True),
        "Status",
        "Phase",
        "Clinic",
        "Patient ref",
        Column("Next session", no_wrap=True),
    )
    for row in rows:
        table.add_row(
            row["workflow_id"],
            named(row["status"]),
            named(row["phase"]),
            row["clinic_id"] or "-",
            row["patient_ref"] or "-",
            when(row["next_session_at"]),
        )
    console.print(table if rows else "No courses match.")


def visibility_query(
    phase: Phase | None, clinic: str | None, scope: list[str] | None = None
) -> str:
    """Only validated values reach the query (the Phase enum, the ref pattern): no injection.
    `scope`: the clinics the caller may see (None: every clinic)."""
    # A course that continued-as-new leaves closed runs behind: list each course once.
    clauses = [f"WorkflowType = '{COURSE_WORKFLOW_TYPE}'", "ExecutionStatus != 'ContinuedAsNew'"]
    if phase is not None:
        clauses.append(f"{COURSE_PHASE.name} = '{phase.value}'")
    if clinic is not None:
        clauses.append(f"{CLINIC_ID.name} = '{options.ref(clinic)}'")
    if scope is not None:
        clinics = ", ".join(f"'{options.ref(each)}'" for each in scope)
        clauses.append(f"{CLINIC_ID.name} IN ({clinics})")
    return " AND ".join(clauses)


def _row(execution: WorkflowExecution) -> dict[str, Any]:
    attributes = execution.typed_search_attributes
    next_at: datetime | None = attributes.get(NEXT_SESSION_AT)
    return {
        "workflow_id": execution.id,
        "status": execution.status.name.lower() if execution.status else None,
        "phase": attributes.get(COURSE_PHASE),
        "clinic_id": attributes.get(CLINIC_ID),
        "patient_ref": attributes.get(PATIENT_REF),
        "next_session_at": next_at,
    }
