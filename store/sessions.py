"""Sessions: one row each, brought up to date by the session's events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.records import SessionEvent, SessionEventRecord
from domain.session import ConcomitantMedication, Stage
from store.db import Executor

_STAGE_AFTER: dict[SessionEvent, Stage | None] = {
    SessionEvent.SCHEDULED: Stage.SCHEDULED,
    SessionEvent.CHECKED_IN: Stage.PRE_DOSE_VITALS,
    SessionEvent.TRANSPORT_CONFIRMED: None,  # before or after check-in: the stage stays
    SessionEvent.HELD: Stage.HELD,
    SessionEvent.DOSED: Stage.MONITORING,
    SessionEvent.DISCHARGED: Stage.DISCHARGED,
    SessionEvent.NOT_DOSED: Stage.NOT_DOSED,
    SessionEvent.MISSED: Stage.CLOSED,
    SessionEvent.CANCELLED: Stage.CLOSED,
}


@dataclass(frozen=True)
class DischargeRecord:
    """What the REMS form needs from the discharge."""

    at: datetime
    concomitant_medications: frozenset[ConcomitantMedication]
    respiratory_depression: bool


async def record_event(db: Executor, record: SessionEventRecord) -> None:
    """Set the columns the event owns; a repeat writes the same values again."""
    changes: dict[str, object] = {
        "last_event": record.event,
        "last_event_at": record.at,
        "last_event_detail": record.detail,
        **_event_columns(record),
    }
    stage = _STAGE_AFTER[record.event]
    if stage is not None:
        changes["stage"] = stage
    inserted = {"stage": Stage.SCHEDULED, **changes}
    # Column names come from this module only, never from input.
    columns = ", ".join(inserted)
    values = ", ".join(f"${i}" for i in range(3, 3 + len(inserted)))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in changes)
    await db.execute(
        f"""
        INSERT INTO sessions (course_id, number, {columns}) VALUES ($1, $2, {values})
        ON CONFLICT (course_id, number) DO UPDATE SET {updates}, updated_at = now()
        """,
        record.course_id,
        record.session,
        *inserted.values(),
    )


def _event_columns(record: SessionEventRecord) -> dict[str, object]:
    match record.event:
        case SessionEvent.SCHEDULED:
            # For this event `at` is the time the session is scheduled for.
            return {"scheduled_at": record.at}
        case SessionEvent.CHECKED_IN:
            return {"checked_in_at": record.at, "checked_in_by": record.actor}
        case SessionEvent.TRANSPORT_CONFIRMED:
            return {"transport_confirmed_at": record.at, "transport_confirmed_via": record.detail}
        case SessionEvent.HELD:
            return {"held_at": record.at}
        case SessionEvent.DOSED:
            return {"dosed_at": record.at}
        case SessionEvent.DISCHARGED if record.discharge is not None:
            discharge = record.discharge
            return {
                "discharged_at": record.at,
                "discharged_by": discharge.by,
                "concomitant_medications": sorted(discharge.concomitant_medications),
                "respiratory_depression": discharge.respiratory_depression,
            }
        case SessionEvent.DISCHARGED:
            return {"discharged_at": record.at, "discharged_by": record.actor}
        case SessionEvent.NOT_DOSED:
            return {"not_dosed_reason": record.detail}
        case SessionEvent.MISSED | SessionEvent.CANCELLED:
            return {}


async def discharge_record(db: Executor, course_id: str, session: int) -> DischargeRecord | None:
    row = await db.fetchrow(
        """
        SELECT discharged_at, concomitant_medications, respiratory_depression
        FROM sessions WHERE course_id = $1 AND number = $2 AND discharged_at IS NOT NULL
        """,
        course_id,
        session,
    )
    if row is None:
        return None
    return DischargeRecord(
        at=row["discharged_at"],
        concomitant_medications=frozenset(
            ConcomitantMedication(m) for m in row["concomitant_medications"]
        ),
        respiratory_depression=bool(row["respiratory_depression"]),
    )
