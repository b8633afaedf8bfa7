"""The append-only audit log: who did what to which course, for every human action."""

from __future__ import annotations

from collections.abc import Mapping

from store.db import Executor


async def record_audit(
    db: Executor, actor: str, action: str, course_id: str | None, details: Mapping[str, object]
) -> int:
    """Append one entry; returns its id. `details` is stored as jsonb."""
    entry_id = await _append(db, None, actor, action, course_id, details)
    assert entry_id is not None  # without an effect key nothing conflicts
    return entry_id


async def record_audit_once(
    db: Executor,
    effect_key: str,
    actor: str,
    action: str,
    course_id: str | None,
    details: Mapping[str, object],
) -> bool:
    """Append the entry unless one with this effect key exists: True if appended now."""
    return await _append(db, effect_key, actor, action, course_id, details) is not None


async def _append(
    db: Executor,
    effect_key: str | None,
    actor: str,
    action: str,
    course_id: str | None,
    details: Mapping[str, object],
) -> int | None:
    entry_id: int | None = await db.fetchval(
        """
        INSERT INTO audit_log (effect_key, actor, action, course_id, details)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (effect_key) DO NOTHING
        RETURNING id
        """,
        effect_key,
        actor,
        action,
        course_id,
        dict(details),
    )
    return entry_id
