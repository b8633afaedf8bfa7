"""`trdflow session`: what the clinic reports about one dosing session."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import options
from cli.caller import on_session
from cli.errors import reported
from cli.render import session_line
from cli.runtime import deliver
from domain.session import OutcomeReport, SessionOutcome
from workflows.session import DosingSession

app = typer.Typer(help="Dosing sessions (workflows course-<id>-session-<n>).")


@app.command()
@reported
def outcome(
    course_id: options.CourseId,
    session: Annotated[int, typer.Option(min=1, help="The session's number in the course.")],
    result: Annotated[
        SessionOutcome | None, typer.Option("--outcome", help="What happened.")
    ] = None,
    dose: Annotated[int | None, typer.Option(help="Dose given, mg (attended only).")] = None,
    devices: Annotated[int | None, typer.Option(help="Devices used, 28 mg each.")] = None,
    lot: Annotated[str | None, typer.Option(help="The devices' lot number.")] = None,
    scale: options.ScaleOption = None,
    total: options.Total = None,
    item9: options.Item9 = None,
    by: options.By = None,
    note: Annotated[str | None, typer.Option(help="Free-text note.")] = None,
    file: options.File = None,
    as_json: options.Json = False,
) -> None:
    """Report a session's outcome: attended (with the dose), missed or cancelled."""
    deliver(
        on_session(course_id, session),
        DosingSession.report_outcome,
        OutcomeReport,
        file,
        {
            "outcome": result,
            "dose_mg": dose,
            "devices": devices,
            "lot": lot,
            "score": options.score(scale, total, item9),
            "reported_by": by,
            "note": note,
        },
        done="outcome recorded",
        show=session_line,
        as_json=as_json,
    )
