"""`trdflow`: the command line for operators, clinic staff and demos."""

from __future__ import annotations

import sys
from typing import Annotated, Any, NoReturn

import typer

from cli import (
    audit,
    course,
    db,
    demo,
    escalation,
    fhir,
    oncall,
    protocol,
    schemas,
    session,
    stack,
    tokens,
    ui_views,
)
from worker.client import exit_process
from worker.logs import configure_logging
from worker.settings import LogLevel


class Cli(typer.Typer):
    """The command line as a process (`trdflow`, the console script, calls the app): it ends
    through `exit_process`, so a command's exit status is never lost to a crash at exit.
    In-process callers (typer's CliRunner) do not call the app and keep their interpreter."""

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        try:
            super().__call__(*args, **kwargs)
        except SystemExit as done:  # how click ends every run, with the command's status
            exit_process(_status(done.code))
        except Exception as err:
            sys.excepthook(type(err), err, err.__traceback__)  # typer's traceback, as uncaught
            exit_process(1)
        exit_process(0)


def _status(code: str | int | None) -> int:
    # As the interpreter reads SystemExit: None is success, a message is printed and fails.
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


app = Cli(
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
app.add_typer(protocol.app, name="protocol")
app.add_typer(tokens.app, name="tokens")
app.add_typer(audit.app, name="audit")
app.add_typer(fhir.app, name="fhir")
app.command()(demo.demo)
app.command("ui-views")(ui_views.command)


@app.callback()
def main(
    log_level: Annotated[LogLevel, typer.Option(help="Log level on stderr.")] = "WARNING",
) -> None:
    # Quiet by default: the CLI's own output is its tables; logs are for trouble.
    configure_logging(log_level)
