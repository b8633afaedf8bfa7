"""The append-only audit log: who (a person or a system) did what, in which clinic, to which
course."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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
    *,
    actor_kind: Kind | None = None,
    clinic_id: str | None = None,
) -> bool:
    """Append the entry unless one with this effect key exists: True if appended now."""
    entry_id = await _append(
        db,
        actor,
        action,
        course_id,
        details,
        effect_key=effect_key,
        actor_kind=actor_kind,
        clinic_id=clinic_id,
    )
    return entry_id is not None


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


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    actor: str
    actor_kind: str | None
    clinic_id: str | None
    action: str
    course_id: str | None
    stage: Stage
    details: dict[str, Any]


class AuditQuery(BaseModel):
    """What an auditor looks for; every field narrows the search."""

    model_config = ConfigDict(frozen=True)

    actor: str | None = None
    course_id: str | None = None
    clinic_id: str | None = None
    action: str | None = None
    """An action, or a prefix ending in '.' (e.g. `console.`)."""
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(200, ge=1, le=10_000)


async def search(db: Executor, query: AuditQuery) -> list[AuditEntry]:
    """The matching entries, oldest first (the last `limit` of them)."""
    action_prefix = query.action if query.action and query.action.endswith(".") else None
    rows = await db.fetch(
        """
        SELECT * FROM (
            SELECT id, at, actor, actor_kind, clinic_id, action, course_id, stage, details
            FROM audit_log
            WHERE ($1::text IS NULL OR actor = $1)
              AND ($2::text IS NULL OR course_id = $2)
              AND ($3::text IS NULL OR clinic_id = $3)
              AND ($4::text IS NULL OR action = $4)
              AND ($5::text IS NULL OR starts_with(action, $5))
              AND ($6::timestamptz IS NULL OR at >= $6)
              AND ($7::timestamptz IS NULL OR at < $7)
            ORDER BY id DESC
            LIMIT $8
        ) found ORDER BY id
        """,
        query.actor,
        query.course_id,
        query.clinic_id,
        None if action_prefix else query.action,
        action_prefix,
        query.since,
        query.until,
        query.limit,
    )
    return [AuditEntry.model_validate(dict(row)) for row in rows]
