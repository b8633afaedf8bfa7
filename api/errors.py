"""Error answers: their documented shapes, and the handlers that never echo a request's content.

A request body may carry PHI (a driver's phone, a dose, a patient's contact), so neither the
answers nor the logs repeat what the caller sent, only where and why it was refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from store.db import UNREACHABLE, unreachable

M = TypeVar("M", bound=BaseModel)

log = structlog.get_logger(__name__)

RETRY_AFTER_S = 5
"""What an outage's 503 tells callers to wait (`Retry-After`) before they try again."""

TEMPORAL_OUTAGES = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
    }
)
"""Temporal could not be reached or did not answer in time, sheds load, or cut the call off (an
Update in flight while the worker that held its workflow task died): retry later. A retried
action sends its Update under the same id, so it is applied once."""

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again (for an outage).",
        "schema": {"type": "integer"},
    }
}


class Part(StrEnum):
    """The backing services a request may need."""

    POSTGRES = "postgres"
    TEMPORAL = "temporal"


class ErrorDetail(BaseModel):
    detail: str = Field(description="Why the request was refused; never the request's content.")


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description='Where: e.g. ["body", "lot"] or ["path", "n"].')
    msg: str
    type: str


class ValidationProblem(BaseModel):
    detail: list[FieldProblem]


class WorkflowNotFoundError(LookupError):
    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"{workflow_id} not found")
        self.workflow_id = workflow_id


class WorkflowRejectedError(RuntimeError):
    """The workflow refused the message in its current state; `reason` is its validator's."""

    def __init__(self, workflow_id: str, reason: str) -> None:
        super().__init__(reason)
        self.workflow_id = workflow_id
        self.reason = reason


class WorkflowUnansweredError(TimeoutError):
    def __init__(self, workflow_id: str) -> None:
        super().__init__(
            f"{workflow_id} did not answer in time: is a worker running? "
            "The request may still be applied when one picks it up."
        )
        self.workflow_id = workflow_id


_MEANINGS = {
    401: "No bearer token, or not a valid one.",
    403: "The token's role may not do this (or, for a webhook, the signature is wrong).",
    404: "No such course or session workflow.",
    409: "Refused in the workflow's current state; `detail` gives the reason.",
    422: "Invalid input: nothing was written. Each problem names its field.",
    503: (
        "A backing service is not available: for an outage of PostgreSQL or Temporal, `detail` "
        "names it and `Retry-After` gives the seconds to wait; a webhook whose secret is not "
        "set answers 503 too."
    ),
    504: "The workflow did not answer in time: is a worker running?",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error answers a route can give."""
    return {
        code: {
            "model": ValidationProblem if code == 422 else ErrorDetail,
            "description": _MEANINGS[code],
            **({"headers": RETRY_AFTER_HEADER} if code == 503 else {}),
        }
        for code in codes
    }


def unavailable(part: Part) -> JSONResponse:
    """The answer to a request that needed `part` while it was down."""
    detail = f"{part} is unavailable: try again in {RETRY_AFTER_S} s"
    return _answer(503, ErrorDetail(detail=detail), headers=retry_after())


def retry_after() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_S)}


def build(model: type[M], fields: Mapping[str, object]) -> M:
    """A domain message from request fields; the domain's own rules refusing it is bad input."""
    try:
        return model.model_validate(fields)
    except ValidationError as err:
        raise invalid(err.errors(include_url=False, include_input=False)) from None


def invalid(problems: list[Any]) -> RequestValidationError:
    """A 422 for problems found in the body after FastAPI's own validation."""
    return RequestValidationError(
        [{**problem, "loc": ("body", *problem.get("loc", ()))} for problem in problems]
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, err: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer repeats each rejected value ("input"): that may be PHI.
        problems = [
            FieldProblem(loc=list(e["loc"]), msg=e["msg"], type=e["type"]) for e in err.errors()
        ]
        return _answer(422, ValidationProblem(detail=problems))

    @app.exception_handler(WorkflowNotFoundError)
    async def _not_found(_: Request, err: WorkflowNotFoundError) -> JSONResponse:
        return _answer(404, ErrorDetail(detail=str(err)))

    @app.exception_handler(WorkflowRejectedError)
    async def _rejected(_: Request, err: WorkflowRejectedError) -> JSONResponse:
        log.info("workflow_refused_request", workflow_id=err.workflow_id)
        return _answer(409, ErrorDetail(detail=err.reason))

    @app.exception_handler(WorkflowUnansweredError)
    async def _unanswered(_: Request, err: WorkflowUnansweredError) -> JSONResponse:
        log.warning("workflow_did_not_answer", workflow_id=err.workflow_id)
        return _answer(504, ErrorDetail(detail=str(err)))

    @app.exception_handler(RPCError)
    async def _temporal_failed(_: Request, err: RPCError) -> JSONResponse:
        if err.status in TEMPORAL_OUTAGES:
            log.error("temporal_unavailable", status=err.status.name)
            return unavailable(Part.TEMPORAL)
        log.error("temporal_request_failed", status=err.status.name)
        return _answer(502, ErrorDetail(detail=f"Temporal refused the request: {err.status.name}"))

    async def _database_unreachable(_: Request, err: Exception) -> JSONResponse:
        if not unreachable(err):
            raise err  # a fault, not an outage: the server's 500
        # The type only: a driver's message may quote the statement's values.
        log.error("postgres_unavailable", error=type(err).__name__)
        return unavailable(Part.POSTGRES)

    # In the API only the database driver raises these (Temporal's client raises RPCError).
    for error_class in UNREACHABLE:
        app.add_exception_handler(error_class, _database_unreachable)


def _answer(code: int, body: BaseModel, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=code, headers=headers)
