"""The on-call schedule: who answers pages for a clinic's role, shift by shift.

Names and phone numbers here are staff contacts (not PHI), but they still stay out of logs:
only staff ids are logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.escalation import OnCallRole
from store.db import Executor


class Shift(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    clinic_id: str = Field(min_length=1)
    role: OnCallRole
    staff_id: str = Field(min_length=1, max_length=120)
    display_name: str = Field(min_length=1)
    phone: Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$")]
    """E.164: the SMS fallback when they have no pager (or it refuses the page)."""
    pager_routing_key: str | None = None
    """Their PagerDuty Events API v2 integration key; None: paged by SMS."""
    pager_user_id: str | None = Field(default=None, min_length=1, max_length=120)
    """The PagerDuty user they acknowledge pages as (the webhook's `event.agent.id`); None:
    an acknowledgement on the pager is not theirs to make."""
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _forward(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("a shift ends after it starts")
        return self


class OnCallEntry(Shift):
    id: int


_COLUMNS = ", ".join(OnCallEntry.model_fields)


async def add_shift(db: Executor, shift: Shift) -> OnCallEntry:
    """Add the shift; the same person's shift for the same role and start is updated instead."""
    row = await db.fetchrow(
        f"""
        INSERT INTO on_call_schedule
            (clinic_id, role, staff_id, display_name, phone, pager_routing_key, pager_user_id,
             starts_at, ends_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (clinic_id, role, staff_id, starts_at) DO UPDATE SET
            display_name = EXCLUDED.display_name, phone = EXCLUDED.phone,
            pager_routing_key = EXCLUDED.pager_routing_key,
            pager_user_id = EXCLUDED.pager_user_id, ends_at = EXCLUDED.ends_at
        RETURNING {_COLUMNS}
        """,
        shift.clinic_id,
        shift.role,
        shift.staff_id,
        shift.display_name,
        shift.phone,
        shift.pager_routing_key,
        shift.pager_user_id,
        shift.starts_at,
        shift.ends_at,
    )
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
    return _entry(row)


async def on_call(
    db: Executor, clinic_id: str, role: OnCallRole, at: datetime
) -> OnCallEntry | None:
    """Who is on call for the clinic's role at `at`: the shift holding it that started last."""
    row = await db.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM on_call_schedule
        WHERE clinic_id = $1 AND role = $2 AND starts_at <= $3 AND $3 < ends_at
        ORDER BY starts_at DESC, id DESC
        LIMIT 1
        """,
        clinic_id,
        role,
        at,
    )
    return None if row is None else _entry(row)


async def on_call_at(db: Executor, clinic_id: str, at: datetime) -> list[OnCallEntry]:
    """Who is on call for each of the clinic's roles at `at` (as `on_call`), in ladder order."""
    rows = await db.fetch(
        f"""
        SELECT DISTINCT ON (role) {_COLUMNS} FROM on_call_schedule
        WHERE clinic_id = $1 AND starts_at <= $2 AND $2 < ends_at
        ORDER BY role, starts_at DESC, id DESC
        """,
        clinic_id,
        at,
    )
    ladder = list(OnCallRole)
    return sorted((_entry(row) for row in rows), key=lambda entry: ladder.index(entry.role))


async def on_call_as(
    db: Executor, clinic_id: str, staff_id: str, role: OnCallRole | None, at: datetime
) -> OnCallEntry:
    """The staff member's shift at the clinic at `at`, in `role` (by default their first role
    on the ladder): whom an escalation may be handed to. ValueError saying why they may not."""
    theirs = [entry for entry in await on_call_at(db, clinic_id, at) if entry.staff_id == staff_id]
    for entry in theirs:
        if role in (None, entry.role):
            return entry
    raise ValueError(
        "on call at this clinic now in another role" if theirs else "not on call at this clinic now"
    )


async def by_staff(db: Executor, staff_id: str) -> OnCallEntry | None:
    """The staff member's latest shift (their current contacts), on call now or not."""
    row = await db.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM on_call_schedule WHERE staff_id = $1
        ORDER BY starts_at DESC, id DESC
        LIMIT 1
        """,
        staff_id,
    )
    return None if row is None else _entry(row)


async def staff_for_pager_user(db: Executor, clinic_id: str, pager_user_id: str) -> str | None:
    """The staff id of the clinic's schedule that acknowledges as this PagerDuty user, on call
    now or not; None when no shift names the user, or shifts name it for different people (a
    mistake in the schedule must not pick one of them)."""
    rows = await db.fetch(
        """
        SELECT DISTINCT staff_id FROM on_call_schedule
        WHERE clinic_id = $1 AND pager_user_id = $2
        LIMIT 2
        """,
        clinic_id,
        pager_user_id,
    )
    if len(rows) != 1:
        return None
    staff_id: str = rows[0]["staff_id"]
    return staff_id


def _entry(row: asyncpg.Record) -> OnCallEntry:
    return OnCallEntry.model_validate(dict(row))
