"""What the console shows of each open escalation: the minimum clinical context, no PHI.

The course id is pseudonymous and the summary PHI-free by contract; the triggering reading is
vitals only. Nothing here names, reaches or describes the patient.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import asyncpg
from pydantic import BaseModel, ConfigDict

from domain.access import Identity
from domain.escalation import EscalationStatus, OnCallRole, Severity
from domain.vitals import VitalSigns
from store import escalations, oncall
from store.readings import reading


class EscalationView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    escalation_id: str
    severity: Severity
    status: EscalationStatus
    condition: str
    summary: str
    course_id: str
    clinic_id: str
    phase: str | None
    session: int | None
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assigned_to: str | None
    pages: int
    rung_since: datetime
    """When its current rung was paged (or it was reassigned): the console counts the wait
    from it."""
    reading: VitalSigns | None = None
    """The reading that raised it, if a reading did."""


class Snapshot(BaseModel):
    """The open escalations, most severe first, then newest; `now` dates the list (server
    time: the page counts "raised N min ago" from it)."""

    now: datetime
    clinic: str | None
    """The clinic the list is filtered to; None: every clinic of the signed-in person."""
    clinics: list[str]
    """What the list may be filtered to: the person's clinics (for staff of every clinic,
    those with escalations open)."""
    counts: dict[Severity, int]
    """How many of the listed escalations are of each severity."""
    escalations: list[EscalationView]


async def snapshot(pool: asyncpg.Pool, who: Identity, clinic: str | None = None) -> Snapshot:
    """The open escalations of the clinics `who` may see, or of `clinic` only (one of them:
    the caller checks)."""
    now = datetime.now(UTC)
    rows = await escalations.list_open(pool, who.clinic_filter)
    clinics = sorted({*(who.clinic_filter or ()), *(row.clinic_id for row in rows)})
    shown = [row for row in rows if clinic in (None, row.clinic_id)]
    counts = dict.fromkeys(Severity, 0) | Counter(row.severity for row in shown)
    views = await asyncio.gather(*(_view(pool, row) for row in shown))
    return Snapshot(now=now, clinic=clinic, clinics=clinics, counts=counts, escalations=list(views))


async def _view(pool: asyncpg.Pool, row: escalations.EscalationRow) -> EscalationView:
    view = EscalationView.model_validate(row)
    if row.reading_id is None:
        return view
    stored = await reading(pool, row.reading_id)
    return view.model_copy(update={"reading": stored.signs if stored else None})


class OnCallPerson(BaseModel):
    """Someone a console may reassign an escalation to: staff, not PHI (and no phone)."""

    model_config = ConfigDict(from_attributes=True)

    staff_id: str
    display_name: str
    role: OnCallRole


async def on_call_now(pool: asyncpg.Pool, clinic_id: str) -> list[OnCallPerson]:
    """Who is on call at the clinic now, one per role, in ladder order."""
    entries = await oncall.on_call_at(pool, clinic_id, datetime.now(UTC))
    return [OnCallPerson.model_validate(entry) for entry in entries]
