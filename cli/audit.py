"""`trdflow audit search`: the append-only audit log, for an auditor."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from cli import options
from cli.errors import INVALID_INPUT, CliError, describe, reported
from cli.render import console, echo_json, when
from cli.runtime import with_pool
from store.audit import AuditQuery, search

app = typer.Typer(help="The audit log: who did what, in which clinic, to which course.")


@app.command("search")
@reported
def search_log(
    actor: Annotated[str | None, typer.Option(help="Who acted.")] = None,
    course: Annotated[str | None, typer.Option(help="The course acted on.")] = None,
    clinic: Annotated[str | None, typer.Option(help="The clinic acted in.")] = None,
    action: Annotated[
        str | None, typer.Option(help="An action, or a prefix ending in '.' (e.g. console.).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time on (ISO 8601, with its offset).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this time (as --since).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, the latest.")] = 200,
    as_json: options.Json = False,
) -> None:
    """Entries matching every filter given, oldest first. Details never hold PHI."""
    try:
        query = AuditQuery.model_validate(
            {
                "actor": actor,
                "course_id": course,
                "clinic_id": clinic,
                "action": action,
                "since": since,
                "until": until,
                "limit": limit,
            }
        )
    except ValidationError as err:
        raise CliError(describe(err, "not a valid search"), INVALID_INPUT) from err
    entries = with_pool(lambda pool: search(pool, query))
    if as_json:
        echo_json([entry.model_dump(mode="json") for entry in entries])
        return
    table = Table("At", "Actor", "Kind", "Clinic", "Action", "Stage", "Course", "Details")
    for entry in entries:
        table.add_row(
            when(entry.at),
            entry.actor,
            entry.actor_kind or "-",
            entry.clinic_id or "-",
            entry.action,
            entry.stage,
            entry.course_id or "-",
            json.dumps(entry.details, sort_keys=True),
        )
    console.print(table)
