"""The activity log line's context: ids only, never PHI."""

from __future__ import annotations

import structlog
from temporalio import activity


def activity_log(course_id: str | None, session: int | None) -> structlog.stdlib.BoundLogger:
    info = activity.info()
    # A logger per call, so it follows the logging configuration in force now.
    bound: structlog.stdlib.BoundLogger = structlog.get_logger(__name__).bind(
        course_id=course_id,
        session=session,
        workflow_id=info.workflow_id,
        activity=info.activity_type,
    )
    return bound
