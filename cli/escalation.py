"""`trdflow escalation`: the open escalations, and acknowledging, reassigning and resolving them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import typer

from cli import options
from cli.caller import caller, on_escalation
from cli.errors import INVALID_INPUT, CliError, reported
from cli.render import console, echo_json, escalation_list
from cli.runtime import deliver, with_pool
from domain.access import Permission
from domain.escalation import AckChannel, Acknowledge, OnCallRole, Reassign, Resolve
from store import escalations, oncall
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
def reassign(
    escalation_id: EscalationId,
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The staff id to page next: on call at the escalation's clinic now."
        ),
    ],
    role: Annotated[
        OnCallRole | None,
        typer.Option(help="Their role on call (by default their first on the ladder)."),
    ] = None,
    by: By = None,
) -> None:
    """Hand the escalation to someone else on call: they are paged next, and its ladder goes on
    from their rung (as the console's reassign)."""

    async def on_call(pool: asyncpg.Pool, clinic_id: str) -> dict[str, Any]:
        try:
            shift = await oncall.on_call_as(pool, clinic_id, to, role, datetime.now(UTC))
        except ValueError as err:
            raise CliError(f"{to} is {err}", INVALID_INPUT) from None
        return {"to_role": shift.role}

    deliver(
        on_escalation(escalation_id),
        Escalation.reassign,
        Reassign,
        None,
        {"by": by, "to_staff": to, "to_role": role},
        done=f"escalation reassigned to {to}",
        complete=on_call,
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
