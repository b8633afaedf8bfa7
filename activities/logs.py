"""The activity log line's context: ids only, never PHI."""

from __future__ import annotations

import structlog
from temporalio import activity

log = structlog.get_logger()


def activity_log(course_id: str, session: int | None) -> structlog.stdlib.BoundLogger:
    info = activity.info()
    bound: structlog.stdlib.BoundLogger = log.bind(
        course_id=course_id,
        session=session,
        workflow_id=info.workflow_id,
        activity=info.activity_type,
    )
    return bound
