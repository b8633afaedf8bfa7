"""Guards for what arrives from outside: no message may wedge a workflow.

A signal is fire-and-forget, so a bad one (no argument, `null`, the wrong shape, extra
arguments) is logged without its input and dropped. An Update's validator refuses a missing
argument with a reason before the handler could trip over it.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow

Message = TypeVar("Message", bound=BaseModel)


def signal_argument(model: type[Message], args: tuple[object, ...], signal: str) -> Message | None:
    """The signal's one argument as `model`, or None once the signal is logged and dropped.

    Signal handlers take `*args` so that the SDK hands over whatever came (with a typed
    parameter, extra arguments or `null` reach the handler and fail the workflow task).
    """
    if len(args) != 1:
        reason = f"expected one {model.__name__}, got {len(args)} arguments"
    else:
        try:
            return model.model_validate(args[0])
        except ValidationError as err:
            reason = invalid_fields(err)
    workflow.logger.warning("signal_dropped", extra={"signal": signal, "reason": reason})
    return None


def require_argument(argument: object, model: type[BaseModel]) -> None:
    """For Update validators: a `null` argument decodes to None whatever the declared type."""
    if not isinstance(argument, model):
        raise ValueError(f"expected a {model.__name__} object, got {type(argument).__name__}")


def invalid_fields(err: ValidationError) -> str:
    """Each failing field and its rule, never the input (it may be PHI)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'argument'}: {error['msg']}"
        for error in err.errors(include_input=False, include_url=False)
    )
