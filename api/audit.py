"""Human actions through the API go to the append-only audit log.

An action that writes the clinical record audits in the same transaction (pass its connection);
one sent to a workflow audits its intent before and its outcome after (`api.actions`).
"""

from __future__ import annotations

import structlog

from store.audit import record_audit
from store.db import Executor
from worker.settings import ApiIdentity

log = structlog.get_logger(__name__)


async def audited(
    db: Executor, who: ApiIdentity, action: str, course_id: str | None, **details: object
) -> None:
    """Log the action; audit it when a person did it (devices and services are not audited).

    `details` must hold no PHI: numbers, codes and outcomes, never free text or contacts.
    """
    log.info(action, course_id=course_id, actor=who.actor, role=who.role, **details)
    if who.role == "staff":
        await record_audit(db, actor=who.actor, action=action, course_id=course_id, details=details)
