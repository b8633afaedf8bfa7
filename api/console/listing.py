"""What the console shows of each open escalation: the minimum clinical context, no PHI.

The course id is pseudonymous and the summary PHI-free by contract; the triggering reading is
vitals only. Nothing here names, reaches or describes the patient.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from pydantic import BaseModel, ConfigDict

from domain.access import Identity
from domain.escalation import EscalationStatus, Severity
from domain.vitals import VitalSigns
from store import escalations
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
    reading: VitalSigns | None = None
    """The reading that raised it, if a reading did."""


class Snapshot(BaseModel):
    """The open escalations, most severe first, then newest; `now` dates the list (server
    time: the page counts "raised N min ago" from it)."""

    now: datetime
    escalations: list[EscalationView]


async def snapshot(pool: asyncpg.Pool, who: Identity) -> Snapshot:
    """The open escalations of the clinics `who` may see."""
    now = datetime.now(UTC)
    rows = await escalations.list_open(pool, who.clinic_filter)
    views = await asyncio.gather(*(_view(pool, row) for row in rows))
    return Snapshot(now=now, escalations=list(views))


async def _view(pool: asyncpg.Pool, row: escalations.EscalationRow) -> EscalationView:
    view = EscalationView.model_validate(row)
    if row.reading_id is None:
        return view
    stored = await reading(pool, row.reading_id)
    return view.model_copy(update={"reading": stored.signs if stored else None})
