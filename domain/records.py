"""What the session's activities are asked to do, and what they answer.

These carry ids, times and clinical facts; PHI (names, phones, addresses) stays in Postgres and is
looked up by the activity that needs it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.clock import CourseClock
from domain.conditions import Condition
from domain.course import PatientContact
from domain.escalation import EscalationPolicies, EscalationPolicy, Severity
from domain.notices import Channel
from domain.protocol import Indication, SessionRules
from domain.session import Administration, Discharge
from domain.vitals import Classification


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)


class PatientRegistration(Record):
    course_id: str
    patient_ref: str
    clinic_id: str
    clinic_timezone: str
    indication: Indication
    patient: PatientContact


class ReminderRequest(Record):
    course_id: str
    session: int
    scheduled_at: AwareDatetime
    hours_before: int
    clinic_timezone: str


class DeliveryStatus(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    FAILED = "failed"
    """Refused by the provider (4xx): recorded and shown to staff, never retried."""
    NOT_REQUESTED = "not_requested"


class Delivery(Record):
    channel: Channel
    status: DeliveryStatus
    provider_id: str | None = None
    error: str | None = None


class TransportRequest(Record):
    course_id: str
    session: int
    scheduled_at: AwareDatetime
    clinic_timezone: str


class TransportRequestStatus(StrEnum):
    REQUESTED = "requested"
    NO_DRIVER = "no_driver"
    """No ride arranged yet: staff must arrange one."""
    FAILED = "failed"


class TransportRequestResult(Record):
    status: TransportRequestStatus
    delivery: Delivery | None = None


class ReadingJudgement(Record):
    """A reading as the session judged it, to be recorded as coded observations."""

    course_id: str
    session: int
    reading_id: int
    checkpoint: str
    classification: Classification


class DoseRecord(Record):
    course_id: str
    session: int
    administration: Administration


class SessionEvent(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    TRANSPORT_CONFIRMED = "transport_confirmed"
    HELD = "held"
    DOSED = "dosed"
    DISCHARGED = "discharged"
    NOT_DOSED = "not_dosed"
    MISSED = "missed"
    CANCELLED = "cancelled"


class SessionEventRecord(Record):
    course_id: str
    session: int
    event: SessionEvent
    at: AwareDatetime
    actor: str | None = None
    detail: str | None = None
    discharge: Discharge | None = None


class RemsFormRequest(Record):
    course_id: str
    session: int
    due_at: AwareDatetime


class RemsFilingInput(Record):
    """A dosed session's REMS form, to be filed within 7 days of the session."""

    course_id: str
    session: int
    phase: str
    scheduled_at: AwareDatetime
    """Protocol time: the day-5 alert and the due day count from it."""
    clock: CourseClock
    rules: SessionRules
    escalation: EscalationPolicies


class RemsSubmissionStatus(StrEnum):
    SUBMITTED = "submitted"
    FAILED = "failed"


class RemsSubmission(Record):
    form_id: str
    status: RemsSubmissionStatus
    submission_id: str | None = None
    error: str | None = None


class Alert(Record):
    """An escalation trigger. The summary holds no PHI: it goes to pagers."""

    dedup_key: str
    """(owner, condition, occurrence): a repeat while it is open joins its escalation."""
    course_id: str
    session: int | None
    severity: Severity
    condition: Condition
    occurrence: int = 1
    owner_workflow_id: str | None = None
    summary: str
    reading_id: int | None = None
    phase: str | None = None
    """The course's phase when the condition fired."""
    policy: EscalationPolicy | None = None
    """The course's pinned policy for this severity (None: the default policy)."""
    raised_at: AwareDatetime | None = None
    """When the owner raised it (workflow time): the same on every attempt. None from owners
    before the `local-raise` patch: the activity's scheduled time stands in."""


class AlertOutcome(StrEnum):
    OPENED = "opened"
    JOINED = "joined"
    """The occurrence's escalation was open: the repeat joined it."""
    RESOLVED_ALREADY = "resolved_already"
    """The occurrence's escalation has ended: a repeat is the next occurrence."""
