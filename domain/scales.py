"""PHQ-9 and MADRS: scores, response and remission."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.protocol import Scales


class Scale(StrEnum):
    PHQ9 = "phq9"
    MADRS = "madrs"

    @property
    def maximum(self) -> int:
        return 27 if self is Scale.PHQ9 else 60


class Score(BaseModel):
    """One administered scale. `item9` is PHQ-9's self-harm item (0-3)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    scale: Scale
    total: int = Field(ge=0)
    item9: int | None = Field(default=None, ge=0, le=3)
    taken_at: datetime | None = None

    @model_validator(mode="after")
    def _in_range(self) -> Score:
        if self.total > self.scale.maximum:
            raise ValueError(f"{self.scale.value} total must be 0-{self.scale.maximum}")
        if self.item9 is not None and self.scale is not Scale.PHQ9:
            raise ValueError("item9 belongs to PHQ-9 only")
        if self.item9 is not None and self.item9 > self.total:
            raise ValueError("item9 cannot exceed the total")
        return self

    @property
    def needs_same_day_follow_up(self) -> bool:
        return bool(self.item9)


class Benefit(BaseModel):
    """Therapeutic benefit of the latest score against baseline."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    scale: Scale
    baseline: int
    latest: int
    reduction: float
    response: bool
    remission: bool


def benefit(baseline: Score, latest: Score, rules: Scales) -> Benefit:
    if baseline.scale is not latest.scale:
        raise ValueError("baseline and latest must be the same scale")
    reduction = (baseline.total - latest.total) / baseline.total if baseline.total else 0.0
    if latest.scale is Scale.PHQ9:
        remission = latest.total < rules.phq9_remission_below
    else:
        remission = latest.total <= rules.madrs_remission_at_most
    return Benefit(
        scale=latest.scale,
        baseline=baseline.total,
        latest=latest.total,
        reduction=round(reduction, 3),
        response=reduction >= rules.response_reduction,
        remission=remission,
    )
