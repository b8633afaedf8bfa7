"""Human actions through the API go to the append-only audit log."""

from __future__ import annotations

import structlog

from api.context import ApiContext
from store.audit import record_audit
from worker.settings import ApiIdentity

log = structlog.get_logger(__name__)


async def audited(
    ctx: ApiContext, who: ApiIdentity, action: str, course_id: str | None, **details: object
) -> None:
    """Log the action; audit it when a person did it (devices and services are not audited).

    `details` must hold no PHI: numbers, codes and outcomes, never free text or contacts.
    """
    log.info(action, course_id=course_id, actor=who.actor, role=who.role, **details)
    if who.role == "staff":
        await record_audit(
            ctx.pool, actor=who.actor, action=action, course_id=course_id, details=details
        )
