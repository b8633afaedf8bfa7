"""`trdflow protocol`: the protocol versions clinics publish (S8), in PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import asyncpg
import typer
from pydantic import TypeAdapter, ValidationError
from rich.table import Table

from cli import options
from cli.errors import INVALID_INPUT, CliError, describe, reported
from cli.inputs import read_json
from cli.render import console, echo_json, when
from cli.runtime import with_pool
from domain.course import Actor
from domain.protocol import PROTOCOL_VERSION, Protocol
from store import protocols

app = typer.Typer(
    help="Clinic protocols: a course pins its clinic's current version when it starts.",
    no_args_is_help=True,
)

Clinic = Annotated[str, typer.Argument(help="The clinic's id.", callback=options.ref)]
ACTOR: TypeAdapter[str] = TypeAdapter(Actor)


@app.command()
@reported
def publish(
    clinic: Clinic,
    overrides: Annotated[
        Path,
        typer.Option(
            "--file",
            "-f",
            help="The clinic's changes to the label's defaults, as a JSON object "
            "(schemas/Protocol.json names every field and its bounds).",
            exists=True,
            dir_okay=False,
        ),
    ],
    version: Annotated[str, typer.Option(help="The new version's name, e.g. 2026-03.")],
    by: Annotated[str, typer.Option("--by", help="Who publishes it (your staff id).")],
) -> None:
    """Publish a protocol version: checked against the label's bounds, then current for
    every course that starts from now on (running courses keep theirs)."""
    protocol = _protocol(overrides, version)
    try:
        entry, new = with_pool(lambda pool: protocols.publish(pool, clinic, protocol, _actor(by)))
    except ValueError as err:  # the label's version name, or a version taken
        raise CliError(str(err), INVALID_INPUT) from err
    if new:
        console.print(f"[green]✓[/green] {clinic} now runs protocol {entry.version}")
    else:
        console.print(f"{clinic} already published {entry.version} with these values")


@app.command("list")
@reported
def list_versions(clinic: Clinic, as_json: options.Json = False) -> None:
    """The clinic's versions, the current one first."""
    entries = with_pool(lambda pool: protocols.versions(pool, clinic))
    if as_json:
        echo_json([entry.model_dump(mode="json") for entry in entries])
        return
    if not entries:
        console.print(f"{clinic} has published no protocol: it runs the label's {PROTOCOL_VERSION}")
        return
    table = Table("Version", "Published", "By", "Current", title=f"Protocols of {clinic}")
    for index, entry in enumerate(entries):
        current = "yes" if index == 0 else ""
        table.add_row(entry.version, when(entry.published_at), entry.published_by, current)
    console.print(table)


@app.command()
@reported
def show(
    clinic: Clinic,
    version: Annotated[
        str | None, typer.Option(help="A version by name [default: the current one].")
    ] = None,
) -> None:
    """A version's every value, as JSON (the label's defaults where the clinic has none)."""

    async def find(pool: asyncpg.Pool) -> Protocol:
        if version is None:
            current = await protocols.current(pool, clinic)
            return Protocol() if current is None else current.protocol
        try:
            return await protocols.pinned(pool, clinic, version)
        except LookupError as err:
            raise CliError(str(err)) from err

    echo_json(with_pool(find))


def _protocol(path: Path, version: str) -> Protocol:
    overrides = read_json(path)
    if not isinstance(overrides, dict):
        raise CliError(f"{path} must hold a JSON object of protocol overrides", INVALID_INPUT)
    try:
        return Protocol().with_overrides(overrides, version=version)
    except ValidationError as err:
        raise CliError(describe(err, f"invalid protocol in {path}"), INVALID_INPUT) from err


def _actor(by: str) -> str:
    try:
        return ACTOR.validate_python(by)
    except ValidationError as err:
        raise CliError(describe(err, "invalid --by"), INVALID_INPUT) from err
