"""Coded observations: one row per sign per vitals checkpoint, written once per effect key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby

from domain.conditions import Level
from domain.observations import CheckpointVitals, SignObservation, checkpoint_vitals
from store.db import Executor


def checkpoint_key(course_id: str, session: int, checkpoint: str) -> str:
    return f"course-{course_id}/session-{session}/vitals-{checkpoint}"


async def record_checkpoint(
    db: Executor,
    *,
    course_id: str,
    session: int,
    checkpoint: str,
    reading_id: int,
    taken_at: datetime,
    observations: Sequence[SignObservation],
) -> bool:
    """Record the checkpoint's observations; False if they were recorded already."""
    key = checkpoint_key(course_id, session, checkpoint)
    recorded = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM observations WHERE starts_with(effect_key, $1))", f"{key}/"
    )
    if recorded:
        return False
    await db.executemany(
        """
        INSERT INTO observations (effect_key, course_id, session, checkpoint, reading_id,
                                  code_system, code, panel_code, value, unit, level, conditions,
                                  taken_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (effect_key) DO NOTHING
        """,
        [
            (
                f"{key}/{o.code}",
                course_id,
                session,
                checkpoint,
                reading_id,
                o.code_system,
                o.code,
                o.panel_code,
                o.value,
                o.unit,
                o.level.name.lower(),
                list(o.conditions),
                taken_at,
            )
            for o in observations
        ],
    )
    return True


async def session_checkpoints(db: Executor, course_id: str, session: int) -> list[CheckpointVitals]:
    """The session's recorded checkpoints, oldest first."""
    rows = await db.fetch(
        """
        SELECT checkpoint, taken_at, code_system, code, panel_code, value, unit, level,
               conditions
        FROM observations WHERE course_id = $1 AND session = $2
        ORDER BY taken_at, checkpoint, id
        """,
        course_id,
        session,
    )
    checkpoints = []
    for (checkpoint, taken_at), group in groupby(
        rows, key=lambda r: (r["checkpoint"], r["taken_at"])
    ):
        observations = [
            SignObservation(
                code_system=row["code_system"],
                code=row["code"],
                panel_code=row["panel_code"],
                value=int(row["value"]),
                unit=row["unit"],
                level=Level[row["level"].upper()],
                conditions=tuple(row["conditions"]),
            )
            for row in group
        ]
        checkpoints.append(checkpoint_vitals(checkpoint, taken_at, observations))
    return checkpoints
