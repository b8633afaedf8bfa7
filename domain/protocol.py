"""The clinical protocol as data: versioned, validated, tunable per clinic and pinned per course.

Defaults follow the US label, the REMS and the common scales (see shared/DESIGN.md).
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from domain.escalation import EscalationPolicies

PROTOCOL_VERSION = "2026.1"
LABEL_DEVICE_MG = 28
LABEL_DOSES_MG = (56, 84)
LABEL_MAX_DEVICES = max(LABEL_DOSES_MG) // LABEL_DEVICE_MG
MDD_SUICIDAL_FIRST_DOSE_MG = 84
LABEL_MIN_MONITORING_MINUTES = 120
"""At least 2 hours of monitoring after the dose (the label and the REMS)."""
"""Every bound below is the label's (and the REMS's): a clinic may be stricter, never looser."""


class Indication(StrEnum):
    TRD = "trd"
    """Treatment-resistant depression: induction, maintenance, follow-up."""
    MDD_SUICIDAL = "mdd_suicidal"
    """MDD with acute suicidal ideation: 84 mg twice weekly for 4 weeks, no maintenance."""


class Frequency(StrEnum):
    TWICE_WEEKLY = "twice_weekly"
    WEEKLY = "weekly"
    EVERY_2_WEEKS = "every_2_weeks"

    @property
    def more_frequent(self) -> Frequency:
        """The previous, more frequent step (every 2 weeks -> weekly -> twice weekly)."""
        order = list(Frequency)
        return order[max(order.index(self) - 1, 0)]

    @property
    def less_frequent(self) -> Frequency:
        order = list(Frequency)
        return order[min(order.index(self) + 1, len(order) - 1)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class DosingRules(Frozen):
    device_mg: int = Field(default=LABEL_DEVICE_MG, ge=LABEL_DEVICE_MG, le=LABEL_DEVICE_MG)
    first_dose_mg: int = Field(default=56, ge=56, le=56)
    """The label: day 1 is 56 mg (the MDD-with-suicidal-ideation course starts at 84)."""
    allowed_doses_mg: tuple[PositiveInt, ...] = LABEL_DOSES_MG
    step_mg: int = Field(default=LABEL_DEVICE_MG, ge=LABEL_DEVICE_MG, le=LABEL_DEVICE_MG)
    minutes_between_devices: int = Field(default=5, ge=5, le=60)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not set(self.allowed_doses_mg) <= set(LABEL_DOSES_MG):
            raise ValueError(f"allowed_doses_mg must be among the label's {LABEL_DOSES_MG}")
        if self.first_dose_mg not in self.allowed_doses_mg:
            raise ValueError("first_dose_mg must be one of allowed_doses_mg")
        if any(dose % self.device_mg for dose in self.allowed_doses_mg):
            raise ValueError("every allowed dose must be a whole number of devices")
        if self.step_mg % self.device_mg:
            raise ValueError("step_mg must be a whole number of devices")
        return self


class Calendar(Frozen):
    """When sessions fall, in the clinic's local time."""

    session_time: time = time(9, 0)
    twice_weekly_days: tuple[int, ...] = Field(default=(0, 3), min_length=2, max_length=2)
    """Weekdays (Monday=0) for twice-weekly sessions."""
    min_days_between_sessions: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _days(self) -> Self:
        first, second = sorted(self.twice_weekly_days)
        if not 0 <= first < second <= 6:
            raise ValueError("twice_weekly_days must be two distinct weekdays 0-6")
        gap = second - first
        if min(gap, 7 - gap) < self.min_days_between_sessions:
            raise ValueError("twice_weekly_days must be at least min_days_between_sessions apart")
        return self


class Scales(Frozen):
    response_reduction: float = Field(default=0.5, gt=0, le=1)
    """Response: at least this fraction less than baseline."""
    phq9_remission_below: int = Field(default=5, ge=0, le=27)
    madrs_remission_at_most: int = Field(default=12, ge=0, le=60)
    relapse_phq9_at_least: int = Field(default=10, ge=0, le=27)
    """In follow-up, a PHQ-9 at or above this that is no longer a response is a relapse."""


class Phases(Frozen):
    induction_weeks: int = Field(default=4, ge=1, le=8)
    fixed_weekly_maintenance_weeks: int = Field(default=4, ge=0, le=52)
    """Weeks 5-8: weekly, before the frequency may go to every 2 weeks."""
    maintenance_weeks: int | None = Field(default=None, ge=1, le=520)
    """Maintenance length; None means until a clinician ends it."""
    follow_up_check_in_weeks: tuple[Annotated[int, Field(ge=1, le=104)], ...] = (2, 4, 12)
    decision_overdue_hours: int = Field(default=72, ge=1, le=168)
    """A clinician decision still pending after this is overdue: the clinic is reminded."""
    outcome_grace_hours: int = Field(default=12, ge=1, le=72)
    """A session with no outcome reported this long after its start counts as missed."""
    check_in_window_days: int = Field(default=7, ge=1, le=28)
    """A follow-up check-in with no score within this window is recorded as missed."""

    @model_validator(mode="after")
    def _check_ins(self) -> Self:
        weeks = self.follow_up_check_in_weeks
        if list(weeks) != sorted(set(weeks)) or any(w < 1 for w in weeks):
            raise ValueError("follow_up_check_in_weeks must be increasing positive weeks")
        return self


class VitalsLimits(Frozen):
    """Clinic escalation policy for vitals (DESIGN.md defaults)."""

    hold_above_systolic: int = Field(default=140, ge=100, le=140)
    hold_above_diastolic: int = Field(default=90, ge=60, le=90)
    """Above 140/90 before dosing, a clinician decides to proceed or delay."""
    critical_repeat_systolic: int = Field(default=180, ge=140, le=180)
    critical_repeat_diastolic: int = Field(default=110, ge=90, le=110)
    """At or above this on two readings 5 minutes apart is critical."""
    critical_repeat_apart_minutes: int = Field(default=5, ge=1, le=5)
    two_reading_window_minutes: int = Field(default=30, ge=15, le=120)
    """Two-reading rules (the repeated severe BP, a sustained heart rate) look back this far."""
    critical_once_systolic: int = Field(default=200, ge=160, le=200)
    critical_once_diastolic: int = Field(default=120, ge=100, le=120)
    critical_spo2_below: int = Field(default=90, ge=90, le=100)
    critical_moaas_at_most: int = Field(default=1, ge=1, le=4)
    urgent_heart_rate_above: int = Field(default=120, ge=90, le=120)
    """Sustained (two readings in a row) above this is urgent."""


class SessionRules(Frozen):
    """The in-room session: reminders, transport, monitoring, discharge, REMS."""

    reminder_hours_before: tuple[Annotated[int, Field(ge=1, le=168)], ...] = (48, 24)
    transport_alert_hours_before: int = Field(default=2, ge=1, le=48)
    bp_check_after_minutes: int = Field(default=40, ge=30, le=50)
    bp_early_minutes: int = Field(default=5, ge=0, le=10)
    """A due blood pressure may be taken this much early."""
    bp_recheck_every_minutes: int = Field(default=15, ge=5, le=30)
    min_monitoring_minutes: int = Field(
        default=LABEL_MIN_MONITORING_MINUTES, ge=LABEL_MIN_MONITORING_MINUTES, le=480
    )
    reading_due_within_minutes: int = Field(default=10, ge=1, le=30)
    """A reading not in by then: the nurse is reminded; another period, and it escalates."""
    vitals_recent_minutes: int = Field(default=30, ge=5, le=60)
    """A pre-dose or discharge set older than this is taken again."""
    hold_decision_due_minutes: int = Field(default=15, ge=5, le=60)
    """A session held for a clinician's decision this long escalates."""
    rems_form_due_days: int = Field(default=7, ge=1, le=7)
    rems_form_reminder_days: int = Field(default=5, ge=1, le=7)
    """A form not filed this many days after its session raises a routine alert (urgent at
    the due day)."""
    vitals: VitalsLimits = VitalsLimits()


class Protocol(Frozen):
    """A pinned protocol: a course keeps the version it started with."""

    version: str = Field(
        default=PROTOCOL_VERSION, min_length=1, max_length=60, pattern=r"^[A-Za-z0-9._+-]+$"
    )
    dosing: DosingRules = DosingRules()
    calendar: Calendar = Calendar()
    scales: Scales = Scales()
    phases: Phases = Phases()
    session: SessionRules = SessionRules()
    escalation: EscalationPolicies = EscalationPolicies()

    def with_overrides(self, overrides: dict[str, Any], *, version: str | None = None) -> Protocol:
        """A clinic's tuned protocol, validated as a whole (a bad override raises)."""
        merged = _deep_merge(self.model_dump(), overrides)
        merged["version"] = version or f"{self.version}+clinic"
        return Protocol.model_validate(merged)


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
