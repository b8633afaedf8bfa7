"""`trdflow escalation`: the open escalations, and acknowledging and resolving them."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import typer

from cli import options
from cli.caller import caller, on_escalation
from cli.errors import reported
from cli.render import console, echo_json, escalation_list
from cli.runtime import deliver, with_pool
from domain.access import Permission
from domain.escalation import AckChannel, Acknowledge, Resolve
from store import escalations
from worker.settings import get_settings
from workflows.escalation import Escalation

app = typer.Typer(help="Escalations (workflows escalation-<dedup key>).", no_args_is_help=True)

EscalationId = Annotated[
    str, typer.Argument(help="The escalation's id, as listed (its workflow id).")
]
By = Annotated[str | None, typer.Option("--by", help="Who does it (your staff id).")]


@app.command("list")
@reported
def list_escalations(
    clinic: Annotated[
        str | None, typer.Option(help="Only this clinic's escalations.", callback=options.ref)
    ] = None,
    as_json: options.Json = False,
) -> None:
    """Escalations not yet resolved, the most severe first, then the newest (from PostgreSQL),
    of the clinics of TRDFLOW_TOKEN's holder."""
    settings = get_settings()

    async def find(pool: asyncpg.Pool) -> list[escalations.EscalationRow]:
        who = await caller(pool, settings, Permission.HANDLE_ESCALATIONS)
        if clinic is not None and not who.covers(clinic):
            return []
        return await escalations.list_open(pool, [clinic] if clinic else who.clinic_filter)

    rows = with_pool(find, settings)
    if as_json:
        echo_json([row.model_dump(mode="json") for row in rows])
    elif rows:
        console.print(escalation_list(rows))
    else:
        console.print("No open escalations.")


@app.command()
@reported
def ack(escalation_id: EscalationId, by: By = None) -> None:
    """Acknowledge the escalation: its paging stops."""
    deliver(
        on_escalation(escalation_id),
        Escalation.acknowledge,
        Acknowledge,
        None,
        {"by": by, "via": AckChannel.CLI},
        done="escalation acknowledged",
    )


@app.command()
@reported
def resolve(escalation_id: EscalationId, by: By = None, note: options.Note = None) -> None:
    """Resolve the escalation, saying what was done."""
    deliver(
        on_escalation(escalation_id),
        Escalation.resolve,
        Resolve,
        None,
        {"by": by, "note": note},
        done="escalation resolved",
    )
