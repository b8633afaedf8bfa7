"""Reading the audit log's rows of actions sent to workflows (intent, then outcome)."""

from __future__ import annotations

import asyncpg


async def attempts(pool: asyncpg.Pool, course_id: str) -> list[tuple[str, int, str]]:
    """Every audited step of the actions sent to a course's workflows, in order:
    (action, attempt, stage)."""
    rows = await pool.fetch(
        "SELECT action, attempt, stage FROM audit_log"
        " WHERE course_id = $1 AND request_key IS NOT NULL ORDER BY id",
        course_id,
    )
    return [(row["action"], row["attempt"], row["stage"]) for row in rows]


async def request_keys(pool: asyncpg.Pool, course_id: str) -> int:
    """How many distinct requests (keys) acted on a course's workflows."""
    count: int = await pool.fetchval(
        "SELECT count(DISTINCT request_key) FROM audit_log WHERE course_id = $1", course_id
    )
    return count
