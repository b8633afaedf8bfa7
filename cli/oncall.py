"""`trdflow oncall`: the on-call schedule in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import asyncpg
import typer
from rich.table import Table

from cli import options
from cli.errors import reported
from cli.render import console, named
from cli.runtime import with_pool
from cli.simulation import DEMO_CLINIC
from domain.escalation import OnCallRole
from domain.protocol import Protocol
from store import protocols
from store.oncall import OnCallEntry, Shift, add_shift

app = typer.Typer(help="The on-call schedule (who is paged).", no_args_is_help=True)

# Fictional staff with unassignable numbers (555-01xx), on call around the clock.
DEMO_STAFF = {
    OnCallRole.NURSE: ("nurse", "Demo On-call Nurse", "+15550101001"),
    OnCallRole.PSYCHIATRIST: ("psychiatrist", "Demo On-call Psychiatrist", "+15550101002"),
    OnCallRole.MEDICAL_DIRECTOR: ("director", "Demo Medical Director", "+15550101003"),
}
SEEDED_BY = "trdflow-seed"
AROUND_THE_CLOCK = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


async def seed_demo(
    pool: asyncpg.Pool, clinic_id: str, protocol: Protocol | None = None
) -> list[OnCallEntry]:
    """Put the demo staff on call for the clinic, and publish `protocol` for it if given;
    seeding again changes nothing."""
    if protocol is not None:
        await protocols.publish(pool, clinic_id, protocol, SEEDED_BY)
    starts_at, ends_at = AROUND_THE_CLOCK
    return [
        await add_shift(
            pool,
            Shift(
                clinic_id=clinic_id,
                role=role,
                staff_id=f"{who}-{clinic_id}",
                display_name=name,
                phone=phone,
                starts_at=starts_at,
                ends_at=ends_at,
            ),
        )
        for role, (who, name, phone) in DEMO_STAFF.items()
    ]


@app.command()
@reported
def seed(
    clinic: Annotated[
        str, typer.Option(help="The clinic to staff.", callback=options.ref)
    ] = DEMO_CLINIC,
) -> None:
    """Put a demo nurse, psychiatrist and medical director on call around the clock, with
    fictional numbers (paged through the SMS provider, the local outbox by default)."""
    entries = with_pool(lambda pool: seed_demo(pool, clinic))
    table = Table("Role", "Staff id", "Name", "Phone", title=f"On call at {clinic}")
    for entry in entries:
        table.add_row(named(entry.role.value), entry.staff_id, entry.display_name, entry.phone)
    console.print(table)
