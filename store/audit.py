"""The append-only audit log: who did what to which course, for every human action."""

from __future__ import annotations

from collections.abc import Mapping

from store.db import Executor


async def record_audit(
    db: Executor, actor: str, action: str, course_id: str | None, details: Mapping[str, object]
) -> int:
    """Append one entry; returns its id. `details` is stored as jsonb."""
    entry_id: int = await db.fetchval(
        "INSERT INTO audit_log (actor, action, course_id, details) VALUES ($1, $2, $3, $4) "
        "RETURNING id",
        actor,
        action,
        course_id,
        dict(details),
    )
    return entry_id
