"""Actions through the API go to the append-only audit log, by whoever did them.

An action that writes the clinical record audits in the same transaction (pass its connection);
one sent to a workflow audits its intent before and its outcome after (`api.actions`).
"""

from __future__ import annotations

import structlog

from domain.access import Identity
from store.audit import record_audit
from store.db import Executor

log = structlog.get_logger(__name__)


async def audited(
    db: Executor,
    who: Identity,
    action: str,
    course_id: str | None,
    clinic_id: str | None,
    **details: object,
) -> None:
    """Log the action and audit it.

    `details` must hold no PHI: numbers, codes and outcomes, never free text or contacts.
    """
    log.info(action, course_id=course_id, clinic_id=clinic_id, actor=who.actor, kind=who.kind)
    await record_audit(
        db,
        actor=who.actor,
        action=action,
        course_id=course_id,
        details=details,
        actor_kind=who.kind,
        clinic_id=clinic_id,
    )
