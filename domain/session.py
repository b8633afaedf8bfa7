"""A dosing session's vocabulary: its input, the outcome the clinic reports, its summary."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.clock import CourseClock
from domain.protocol import DosingRules
from domain.scales import Score


class SessionOutcome(StrEnum):
    ATTENDED = "attended"
    """Attended and dosed."""
    MISSED = "missed"
    CANCELLED = "cancelled"


class SessionInput(BaseModel):
    model_config = ConfigDict(frozen=True)

    course_id: str
    number: int = Field(ge=1)
    phase: str
    scheduled_at: AwareDatetime
    """Protocol time."""
    clock: CourseClock
    dosing: DosingRules
    allowed_doses_mg: tuple[int, ...]
    outcome_grace_hours: int


class OutcomeReport(BaseModel):
    """What the clinic reports when a session is over."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(min_length=3)


class SessionSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    phase: str
    scheduled_at: AwareDatetime
    workflow_id: str
    outcome: SessionOutcome | None = None
    dose_mg: int | None = None
    score: Score | None = None
    reason: str | None = None
