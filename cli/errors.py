"""Known failures become one red line and an exit code, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn, ParamSpec

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from worker.client import SimulationNotAllowedError
from worker.codec import CodecError

FAILED = 1
INVALID_INPUT = 2
"""Click's own code for bad usage: a message that fails validation is bad input too."""

P = ParamSpec("P")

err_console = Console(stderr=True)


class CliError(Exception):
    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def describe(err: ValidationError, title: str) -> str:
    """One line per problem. Input values are left out: they may be PHI."""
    lines = [f"{title}:"]
    for problem in err.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in problem["loc"]) or "(message)"
        lines.append(f"  {where}: {problem['msg']}")
    return "\n".join(lines)


def reported(command: Callable[P, None]) -> Callable[P, None]:
    """Wrap a command so that its known failures are reported, not raised."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except CliError as err:
            fail(err.message, err.code)
        except ValidationError as err:
            fail(describe(err, f"invalid {err.title}"), INVALID_INPUT)
        except SimulationNotAllowedError as err:
            fail(str(err), INVALID_INPUT)
        except WorkflowAlreadyStartedError as err:
            fail(f"{err.workflow_id} already exists: a course id is started only once")
        except WorkflowUpdateFailedError as err:
            fail(f"rejected: {_reason(err.cause)}")
        except WorkflowQueryFailedError as err:
            fail(f"query failed: {err.message}")
        except RPCError as err:
            fail(f"Temporal: {err.message} ({err.status.name})")
        except CodecError as err:
            fail(f"payload encryption keys: {err}")

    return wrapper


def fail(message: str, code: int = FAILED) -> NoReturn:
    err_console.print(f"[red]{escape(message)}[/red]", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _reason(cause: BaseException) -> str:
    # A validator's ValueError reaches the client as an ApplicationError with its message.
    return cause.message if isinstance(cause, ApplicationError) else str(cause)
