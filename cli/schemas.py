"""`trdflow schemas`: the JSON Schema of every message other services send or receive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from cli.render import console
from domain.course import (
    AssessmentReport,
    CourseResult,
    CourseStart,
    CourseStatus,
    Discontinue,
    EndMaintenance,
    FrequencyChange,
    Pause,
    RelapseDecision,
    Reschedule,
    Resume,
    ReviewDecision,
    ScoreReport,
)
from domain.eligibility import Eligibility
from domain.escalation import (
    Acknowledge,
    EscalationChanged,
    EscalationInput,
    EscalationState,
    Reassign,
    Resolve,
    Retrigger,
)
from domain.protocol import Protocol
from domain.records import RemsFilingInput
from domain.session import (
    Administration,
    Cancel,
    CheckIn,
    Discharge,
    DriverNamed,
    HoldDecision,
    OutcomeReport,
    ReadingArrived,
    SessionSummary,
    TransportConfirmation,
)
from domain.session_core import SessionState
from domain.vitals import VitalSigns

SENT: tuple[type[BaseModel], ...] = (
    CourseStart,
    AssessmentReport,
    ScoreReport,
    ReviewDecision,
    FrequencyChange,
    EndMaintenance,
    RelapseDecision,
    Pause,
    Resume,
    Discontinue,
    Reschedule,
    OutcomeReport,
    Cancel,
    CheckIn,
    TransportConfirmation,
    DriverNamed,
    ReadingArrived,
    VitalSigns,
    HoldDecision,
    Administration,
    Discharge,
    RemsFilingInput,
    EscalationInput,
    Acknowledge,
    Resolve,
    Reassign,
    Retrigger,
    EscalationChanged,
    Protocol,
)
"""Workflow inputs, Update and signal arguments, and the protocol a clinic publishes: what
callers send."""
RECEIVED: tuple[type[BaseModel], ...] = (
    CourseStatus,
    SessionSummary,
    SessionState,
    CourseResult,
    Eligibility,
    EscalationState,
)
"""Query answers, Update results and workflow results: what callers get back."""

DRAFT = "https://json-schema.org/draft/2020-12/schema"

app = typer.Typer(help="The JSON Schemas of the messages in the contract.")

Directory = Annotated[
    Path, typer.Option("--dir", help="Where the <Model>.json files live.", file_okay=False)
]


def schema_files() -> dict[str, str]:
    """File name -> file text, for every model in the contract."""
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((model, "validation") for model in SENT),
        *((model, "serialization") for model in RECEIVED),
    ]
    return {f"{model.__name__}.json": _render(model, mode) for model, mode in modes}


def _render(model: type[BaseModel], mode: JsonSchemaMode) -> str:
    schema = {"$schema": DRAFT, **model.model_json_schema(mode=mode)}
    return json.dumps(schema, sort_keys=True, indent=2) + "\n"


@app.command()
def export(
    directory: Directory = Path("schemas"),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; fail if the files are out of date.")
    ] = False,
) -> None:
    """Write schemas/<Model>.json for every message model (or check them, for CI)."""
    expected = schema_files()
    on_disk = {path.name: path for path in directory.glob("*.json")}
    changed = sorted(
        name
        for name, text in expected.items()
        if name not in on_disk or on_disk[name].read_text() != text
    )
    stale = sorted(set(on_disk) - set(expected))
    if check:
        for name in changed:
            # Never wrapped: a path broken over two lines cannot be copied.
            console.print(f"[red]out of date:[/red] {directory / name}", soft_wrap=True)
        for name in stale:
            console.print(f"[red]no such model:[/red] {directory / name}", soft_wrap=True)
        if changed or stale:
            console.print("Run `trdflow schemas export` and commit the result.")
            raise typer.Exit(1)
        console.print(f"{directory}: all {len(expected)} schemas up to date.", soft_wrap=True)
        return
    directory.mkdir(parents=True, exist_ok=True)
    for name in changed:
        (directory / name).write_text(expected[name])
    # The directory holds exactly the contract: a schema whose model is gone must go too.
    for name in stale:
        on_disk[name].unlink()
    console.print(f"{directory}: {len(changed)} schemas written, {len(stale)} removed.")
