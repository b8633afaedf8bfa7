"""Arguments and options that several commands share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from domain.course import REF_PATTERN
from domain.scales import Scale


def ref(value: str | None) -> str | None:
    """Ids go into workflow ids and visibility queries: check them before they get there."""
    if value is not None and not re.match(REF_PATTERN, value):
        raise typer.BadParameter(f"must be lower-case letters, digits and '-' ({REF_PATTERN})")
    return value


CourseId = Annotated[
    str, typer.Argument(help="The course id (its workflow is course-<id>).", callback=ref)
]
File = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="The whole message as JSON (schemas/<Message>.json), instead of the options.",
        exists=True,
        dir_okay=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Clinician = Annotated[str | None, typer.Option(help="The clinician deciding.")]
By = Annotated[str | None, typer.Option("--by", help="Who reports or requests this.")]
Note = Annotated[str | None, typer.Option(help="The clinical note (at least 3 characters).")]
Reason = Annotated[str | None, typer.Option(help="Why (at least 3 characters).")]
ScaleOption = Annotated[Scale | None, typer.Option("--scale", help="The scale [default: phq9].")]
Total = Annotated[int | None, typer.Option(help="The scale's total score.")]
Item9 = Annotated[int | None, typer.Option(help="PHQ-9 item 9 (self-harm), 0-3.")]


def score(scale: Scale | None, total: int | None, item9: int | None) -> dict[str, Any] | None:
    """A Score from the score options, or None if none was given."""
    if scale is None and total is None and item9 is None:
        return None
    return {"scale": scale or Scale.PHQ9, "total": total, "item9": item9}
