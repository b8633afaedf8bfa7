"""Maintenance-frequency suggestions and relapse detection: rules a clinician acts on."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from domain.protocol import Frequency, Scales
from domain.scales import Scale, Score, benefit


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    frequency: Frequency
    reason: str


def suggest_frequency(
    current: Frequency,
    *,
    may_space_out: bool,
    missed_since_change: int,
    baseline: Score | None,
    phq9_history: Sequence[Score],
    rules: Scales,
) -> Suggestion | None:
    """The rule-based suggestion shown to the clinician, or None to keep the frequency.

    Missed sessions with worsening scores step back to the previous frequency. Otherwise, when
    response or remission holds, step to the lowest frequency that keeps it (every 2 weeks only
    once `may_space_out`, from week 9).
    """
    latest = phq9_history[-1] if phq9_history else None
    previous = phq9_history[-2] if len(phq9_history) > 1 else None
    if missed_since_change and latest and previous and latest.total > previous.total:
        if current is not Frequency.TWICE_WEEKLY:
            return Suggestion(
                frequency=current.more_frequent,
                reason=(
                    f"{missed_since_change} missed session(s) with worsening PHQ-9 "
                    f"({previous.total} -> {latest.total})"
                ),
            )
        return None
    if latest is None or baseline is None or baseline.scale is not Scale.PHQ9:
        return None
    gain = benefit(baseline, latest, rules)
    if not (gain.response or gain.remission) or missed_since_change:
        return None
    if current is Frequency.TWICE_WEEKLY or (current is Frequency.WEEKLY and may_space_out):
        state = "remission" if gain.remission else "response"
        return Suggestion(
            frequency=current.less_frequent,
            reason=f"{state} holds (PHQ-9 {gain.baseline} -> {gain.latest})",
        )
    return None


def is_relapse(baseline: Score, latest: Score, rules: Scales) -> bool:
    """A follow-up PHQ-9 that is high again and no longer a response to treatment."""
    if latest.scale is not Scale.PHQ9 or baseline.scale is not Scale.PHQ9:
        return False
    return (
        latest.total >= rules.relapse_phq9_at_least
        and not benefit(baseline, latest, rules).response
    )
