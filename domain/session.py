"""A dosing session's vocabulary: its input, the outcome the clinic reports, its summary."""

from __future__ import annotations

import itertools
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.clock import ClinicalTime, CourseClock
from domain.escalation import EscalationPolicies
from domain.protocol import LABEL_MAX_DEVICES, DosingRules, SessionRules
from domain.scales import Score
from domain.vitals import VitalSigns

SESSION_MOVED = "session_moved"
"""The signal a session sends its course when a clinician delays it to a new time."""


class SessionOutcome(StrEnum):
    ATTENDED = "attended"
    """Attended and dosed."""
    MISSED = "missed"
    CANCELLED = "cancelled"


class SessionInput(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    course_id: str
    number: int = Field(ge=1)
    phase: str
    scheduled_at: AwareDatetime
    """Protocol time."""
    clock: CourseClock
    dosing: DosingRules
    allowed_doses_mg: tuple[int, ...]
    outcome_grace_hours: int
    rules: SessionRules = SessionRules()
    clinic_timezone: str = "America/New_York"
    escalation: EscalationPolicies = EscalationPolicies()


class OutcomeReport(BaseModel):
    """What the clinic reports when a session is over."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    outcome: SessionOutcome
    reported_by: str = Field(min_length=1, max_length=120)
    dose_mg: int | None = Field(default=None, gt=0)
    devices: int | None = Field(default=None, gt=0)
    lot: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,40}$")
    score: Score | None = None
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _dose_only_when_attended(self) -> Self:
        dosed = (self.dose_mg, self.devices, self.lot)
        if self.outcome is SessionOutcome.ATTENDED and None in dosed:
            raise ValueError("an attended session needs dose_mg, devices and lot")
        if self.outcome is not SessionOutcome.ATTENDED and any(v is not None for v in dosed):
            raise ValueError("only an attended session records a dose")
        return self


class Cancel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    reason: str = Field(min_length=3)


class SessionSummary(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    number: int
    phase: str
    scheduled_at: AwareDatetime
    workflow_id: str
    outcome: SessionOutcome | None = None
    dose_mg: int | None = None
    score: Score | None = None
    reason: str | None = None


# --- In the room: messages from clinic staff and systems --------------------------------------

Actor = Annotated[str, Field(min_length=1, max_length=120)]


class CheckIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    by: Actor


class TransportConfirmedVia(StrEnum):
    DRIVER_SMS = "driver_sms"
    STAFF = "staff"


class TransportConfirmation(BaseModel):
    """A ride home confirmed by the driver's SMS reply or by staff."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    by: Actor
    via: TransportConfirmedVia


class DriverNamed(BaseModel):
    """Signal from the API: staff named the session's driver (`revision` counts the drivers)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    revision: int = Field(ge=1)


class ReadingArrived(BaseModel):
    """Signal from the API: a reading is stored in Postgres; the session judges it."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    reading_id: int
    signs: VitalSigns


class HoldDecision(BaseModel):
    """A clinician's decision on a session held for high blood pressure."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    proceed: bool
    clinician: Actor
    note: str = Field(min_length=3, max_length=2000)
    reschedule_to: ClinicalTime | None = None
    """With a delay: the protocol time to move the session to (else it is not dosed)."""

    @model_validator(mode="after")
    def _reschedule_only_on_delay(self) -> Self:
        if self.proceed and self.reschedule_to is not None:
            raise ValueError("reschedule_to goes with a delay, not with proceed")
        return self


class Administration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    dose_mg: int = Field(gt=0)
    lot: str = Field(pattern=r"^[A-Za-z0-9-]{1,40}$")
    device_times: tuple[ClinicalTime, ...] = Field(min_length=1, max_length=LABEL_MAX_DEVICES)
    """When each device was used, by the clinic's clock, in order (the label: 5 minutes
    apart). Kept beside the server's time of the dose, which the monitoring counts from."""
    by: Actor

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        times = self.device_times
        if any(later <= earlier for earlier, later in itertools.pairwise(times)):
            raise ValueError("device_times must be in the order the devices were used")
        return self

    @property
    def devices(self) -> int:
        return len(self.device_times)

    @property
    def first_device_at(self) -> datetime:
        return self.device_times[0]


class ConcomitantMedication(StrEnum):
    """The REMS form's categories."""

    BENZODIAZEPINES = "benzodiazepines"
    NON_BENZODIAZEPINE_SEDATIVE_HYPNOTICS = "non_benzodiazepine_sedative_hypnotics"
    PSYCHOSTIMULANTS = "psychostimulants"
    MAOIS = "maois"
    OPIOIDS = "opioids"


class Discharge(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    by: Actor
    concomitant_medications: frozenset[ConcomitantMedication] = frozenset()
    respiratory_depression: bool = False


class Stage(StrEnum):
    SCHEDULED = "scheduled"
    PRE_DOSE_VITALS = "pre_dose_vitals"
    """Checked in: the pre-dose set (BP, heart rate, SpO2) is being taken."""
    HELD = "held"
    """Pre-dose BP above 140/90: waiting for a clinician's proceed-or-delay decision."""
    READY_TO_DOSE = "ready_to_dose"
    MONITORING = "monitoring"
    DISCHARGED = "discharged"
    NOT_DOSED = "not_dosed"
    CLOSED = "closed"
    """Missed or cancelled before check-in."""
