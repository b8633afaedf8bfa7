"""`trdflow`: the command line for operators, clinic staff and demos."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import course, db, demo, escalation, oncall, schemas, session, stack
from worker.logs import configure_logging
from worker.settings import LogLevel

app = typer.Typer(
    help="Esketamine treatment courses as Temporal workflows.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold PHI
)
app.add_typer(course.app, name="course")
app.add_typer(session.app, name="session")
app.add_typer(stack.app, name="dev")
app.add_typer(schemas.app, name="schemas")
app.add_typer(db.app, name="db")
app.add_typer(escalation.app, name="escalation")
app.add_typer(oncall.app, name="oncall")
app.command()(demo.demo)


@app.callback()
def main(
    log_level: Annotated[LogLevel, typer.Option(help="Log level on stderr.")] = "WARNING",
) -> None:
    # Quiet by default: the CLI's own output is its tables; logs are for trouble.
    configure_logging(log_level)
