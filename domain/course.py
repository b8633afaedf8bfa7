"""The treatment course's vocabulary: its start, its state, its messages and its status."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from domain.clock import ClinicalTime, CourseClock
from domain.contract import MAX_SESSIONS, course_id_is_unambiguous
from domain.eligibility import Assessment, Eligibility
from domain.escalation import EscalationChanged
from domain.maintenance import Suggestion
from domain.notices import Channel
from domain.occurrences import Occurrences
from domain.protocol import Frequency, Indication, Protocol
from domain.scales import Benefit, Scale, Score
from domain.session import SessionSummary

REF_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""Course ids, patient refs and clinic ids: pseudonymous, lower-case, safe in workflow ids."""

Ref = Annotated[str, Field(pattern=REF_PATTERN)]
Actor = Annotated[str, Field(min_length=1, max_length=120)]
Reason = Annotated[str, Field(min_length=3, max_length=2000)]


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError("unknown time zone") from err  # the name, not echoed: it may be PHI
    return name


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


class Message(BaseModel):
    # Validation errors are logged by the SDK: they must not quote the input (PHI).
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class Phase(StrEnum):
    ASSESSMENT = "assessment"
    INDUCTION = "induction"
    INDUCTION_REVIEW = "induction_review"
    MAINTENANCE = "maintenance"
    FOLLOW_UP = "follow_up"
    COMPLETED = "completed"
    DISCONTINUED = "discontinued"
    INELIGIBLE = "ineligible"

    @property
    def is_final(self) -> bool:
        return self in (Phase.COMPLETED, Phase.DISCONTINUED, Phase.INELIGIBLE)


class PatientContact(Message):
    """PHI: travels only in encrypted payloads, never in ids, search attributes or logs."""

    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    date_of_birth: date
    reminders_by: frozenset[Channel] = frozenset({Channel.SMS})
    """The patient's reminder preferences."""

    @model_validator(mode="after")
    def _email_for_email_reminders(self) -> Self:
        if Channel.EMAIL in self.reminders_by and self.email is None:
            raise ValueError("e-mail reminders need an email address")
        return self


class CourseStart(Message):
    """Everything needed to start a course (the `TreatmentCourse` workflow input)."""

    course_id: Annotated[Ref, AfterValidator(course_id_is_unambiguous)]
    patient_ref: Ref
    clinic_id: Ref
    clinic_timezone: TimeZoneName = "America/New_York"
    indication: Indication = Indication.TRD
    patient: PatientContact
    time_scale: float = Field(default=1.0, gt=0, le=1)
    """Protocol durations are multiplied by this: 1/8640 makes a day last 10 s (simulation)."""
    carried_state: CourseState | None = None
    """Set by the course itself when it continues-as-new; callers leave it out."""


# --- Messages: Updates and signals from clinic systems and clinicians ------------------------


class AssessmentReport(Message):
    assessment: Assessment


class ReviewDecision(Message):
    """End-of-induction decision: does treatment continue into maintenance?"""

    continue_treatment: bool
    clinician: Actor
    note: Reason


class FrequencyChange(Message):
    frequency: Frequency
    clinician: Actor
    reason: Reason


class ScoreReport(Message):
    score: Score
    reported_by: Actor


class Pause(Message):
    reason: Reason
    requested_by: Actor


class Resume(Message):
    requested_by: Actor


class Discontinue(Message):
    reason: Reason
    clinician: Actor


class EndMaintenance(Message):
    clinician: Actor
    note: Reason


class RelapseDecision(Message):
    reinduce: bool
    clinician: Actor
    note: Reason


class Reschedule(Message):
    session: int = Field(ge=1, le=MAX_SESSIONS)
    new_time: ClinicalTime
    """Protocol time, with its offset."""
    requested_by: Actor
    reason: Reason


# --- State ------------------------------------------------------------------------------------


class Awaiting(StrEnum):
    ASSESSMENT = "assessment"
    SESSION = "session"
    REVIEW_DECISION = "review_decision"
    CHECK_IN = "check_in"
    RELAPSE_DECISION = "relapse_decision"
    RESUME = "resume"


RECENT_SESSIONS_KEPT = 12
SCORE_HISTORY_KEPT = 8


class CourseState(BaseModel):
    """All state of one course; carried whole across continue-as-new."""

    model_config = ConfigDict(hide_input_in_errors=True)

    phase: Phase = Phase.ASSESSMENT
    clock: CourseClock
    protocol: Protocol | None = None
    """The clinic's current version, pinned when the course registers (S8); kept for life."""
    awaiting: Awaiting | None = Awaiting.ASSESSMENT
    eligibility: Eligibility | None = None
    baseline: dict[Scale, Score] = {}
    phq9_history: list[Score] = []
    latest: dict[Scale, Score] = {}
    phase_started_at: datetime
    frequency: Frequency | None = None
    sessions_started: int = 0
    """Numbers the sessions (and their workflow ids) across the whole course."""
    sessions_dosed: int = 0
    phase_sessions: int = 0
    """Schedule slots used in the current phase, missed ones included."""
    recent_sessions: list[SessionSummary] = []
    last_dose_mg: int | None = None
    current_session: SessionSummary | None = None
    missed_since_change: int = 0
    maintenance_end_requested: bool = False
    suggestion: Suggestion | None = None
    review: Benefit | None = None
    decision_due_at: datetime | None = None
    decision_reminders: int = 0
    check_ins_done: int = 0
    next_check_in_at: datetime | None = None
    scores_recorded: int = 0
    last_phq9_reported_at: datetime | None = None
    """Protocol time of the latest PHQ-9 reported to the course (a follow-up check-in)."""
    relapse_flagged: bool = False
    open_escalations: dict[str, EscalationChanged] = {}
    """The course's escalations not yet resolved (its sessions' too), by escalation id."""
    escalations: Occurrences = Occurrences()
    """The course's own conditions (item 9, overdue decisions) and their occurrences."""
    paused: bool = False
    pause_reason: str | None = None
    final_reason: str | None = None
    runs: int = 1

    def record_score(self, score: Score) -> None:
        self.latest[score.scale] = score
        self.scores_recorded += 1
        if score.scale is Scale.PHQ9:
            self.phq9_history = [*self.phq9_history, score][-SCORE_HISTORY_KEPT:]


class CourseStatus(BaseModel):
    """The `status` query's answer."""

    model_config = ConfigDict(hide_input_in_errors=True)

    course_id: str
    patient_ref: str
    clinic_id: str
    indication: Indication
    protocol_version: str | None
    """None for the moment between the start and the pin."""
    clock: CourseClock
    phase: Phase
    awaiting: Awaiting | None
    paused: bool
    frequency: Frequency | None
    sessions_done: int
    current_session: SessionSummary | None
    next_session_at: datetime | None
    next_check_in_at: datetime | None
    check_ins_done: int
    recent_sessions: list[SessionSummary]
    baseline: dict[Scale, Score]
    latest_scores: dict[Scale, Score]
    benefit: Benefit | None
    suggestion: Suggestion | None
    decision_due_at: datetime | None
    relapse_flagged: bool
    open_escalations: list[EscalationChanged]
    """Not yet resolved (open or acknowledged)."""
    final_reason: str | None
    run: int


class CourseResult(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)

    course_id: str
    phase: Phase
    sessions_done: int
    reason: str | None


CourseStart.model_rebuild()
