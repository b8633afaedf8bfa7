"""A course's clinical record as read back from PostgreSQL, for export (FHIR): its sessions,
readings, doses, escalations and reminders. Ids, times and clinical facts only: the patient's
PHI is looked up apart, for callers allowed to see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from domain.conditions import Level
from domain.escalation import EscalationStatus, Trigger
from domain.notices import Channel
from domain.protocol import Indication
from domain.records import SessionEvent
from domain.session import Administration, Stage
from domain.vitals import VitalSigns


@dataclass(frozen=True)
class SessionEntry:
    number: int
    scheduled_at: datetime | None
    stage: Stage
    last_event: SessionEvent
    discharged_at: datetime | None


@dataclass(frozen=True)
class Judgement:
    """What the session found about one sign of a reading."""

    level: Level
    conditions: tuple[str, ...]


@dataclass(frozen=True)
class ReadingEntry:
    id: int
    signs: VitalSigns
    received_at: datetime
    """The server's time: when the system learned of the reading (S5)."""
    judged: Mapping[str, Judgement] = field(default_factory=dict)
    """The judgement of each sign, by its code, where a vitals checkpoint recorded it."""


@dataclass(frozen=True)
class DoseEntry:
    session: int
    given: Administration


@dataclass(frozen=True)
class Handled:
    """What on-call staff did about an escalation: acknowledged or resolved it."""

    action: EscalationStatus
    """Acknowledged or resolved."""
    at: datetime
    by: str | None
    note: str | None = None
    """Free text by staff (a resolution's): shown only to callers allowed PHI."""


@dataclass(frozen=True)
class EscalationEntry:
    escalation_id: str
    trigger: Trigger
    status: EscalationStatus
    handled: tuple[Handled, ...]
    """Oldest first."""

    @property
    def resolved_at(self) -> datetime | None:
        return next((h.at for h in self.handled if h.action is EscalationStatus.RESOLVED), None)


@dataclass(frozen=True)
class ReminderEntry:
    session: int
    hours_before: int
    channel: Channel
    status: str
    """The delivery ledger's: pending, sent or failed."""
    created_at: datetime
    sent_at: datetime | None
    body: str
    """The text sent to the patient: shown only to callers allowed PHI."""


@dataclass(frozen=True)
class CourseChart:
    course_id: str
    patient_ref: str
    clinic_id: str
    indication: Indication
    protocol_version: str
    registered_at: datetime
    sessions: tuple[SessionEntry, ...]
    readings: tuple[ReadingEntry, ...]
    doses: tuple[DoseEntry, ...]
    escalations: tuple[EscalationEntry, ...]
    reminders: tuple[ReminderEntry, ...]
