"""The append-only audit log: who (a person or a system) did what, in which clinic, to which
course."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from domain.access import Kind
from store.db import Executor


class Stage(StrEnum):
    """Where an audited action stands. An action sent to a workflow writes its intent first and
    its outcome after, as two rows (the log is append-only); other actions write one `done`."""

    INTENT = "intent"
    DONE = "done"
    REFUSED = "refused"


async def record_audit(
    db: Executor,
    actor: str,
    action: str,
    course_id: str | None,
    details: Mapping[str, object],
    *,
    actor_kind: Kind | None = None,
    clinic_id: str | None = None,
) -> int:
    """Append one entry; returns its id. `details` is stored as jsonb."""
    entry_id = await _append(
        db, actor, action, course_id, details, actor_kind=actor_kind, clinic_id=clinic_id
    )
    assert entry_id is not None  # without an effect or request key nothing conflicts
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
    return await _append(db, actor, action, course_id, details, effect_key=effect_key) is not None


async def record_attempt(
    db: Executor,
    request_key: str,
    attempt: int,
    stage: Stage,
    actor: str,
    action: str,
    course_id: str | None,
    details: Mapping[str, object],
    *,
    actor_kind: Kind | None = None,
    clinic_id: str | None = None,
) -> bool:
    """Append one stage of a request's attempt, unless it is there: True if appended now."""
    entry_id = await _append(
        db,
        actor,
        action,
        course_id,
        details,
        request=(request_key, attempt, stage),
        actor_kind=actor_kind,
        clinic_id=clinic_id,
    )
    return entry_id is not None


async def request_attempts(db: Executor, request_key: str) -> dict[int, frozenset[Stage]]:
    """The stages written so far of each attempt of a request."""
    rows = await db.fetch(
        "SELECT attempt, array_agg(stage) AS stages FROM audit_log WHERE request_key = $1"
        " GROUP BY attempt",
        request_key,
    )
    return {row["attempt"]: frozenset(Stage(s) for s in row["stages"]) for row in rows}


async def _append(
    db: Executor,
    actor: str,
    action: str,
    course_id: str | None,
    details: Mapping[str, object],
    *,
    effect_key: str | None = None,
    request: tuple[str, int, Stage] | None = None,
    actor_kind: Kind | None = None,
    clinic_id: str | None = None,
) -> int | None:
    request_key, attempt, stage = request or (None, None, Stage.DONE)
    entry_id: int | None = await db.fetchval(
        """
        INSERT INTO audit_log (effect_key, request_key, attempt, stage, actor, action,
                               course_id, details, actor_kind, clinic_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT DO NOTHING
        RETURNING id
        """,
        effect_key,
        request_key,
        attempt,
        stage,
        actor,
        action,
        course_id,
        dict(details),
        actor_kind,
        clinic_id,
    )
    return entry_id
