"""domain.maintenance: frequency suggestions and relapse detection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from domain.maintenance import is_relapse, suggest_frequency
from domain.protocol import Frequency, Scales
from domain.scales import Scale, Score

RULES = Scales()
BASELINE = Score(scale=Scale.PHQ9, total=20)


def phq9(*totals: int) -> list[Score]:
    return [Score(scale=Scale.PHQ9, total=t) for t in totals]


def suggest(
    current: Frequency,
    history: Sequence[Score],
    *,
    missed: int = 0,
    may_space_out: bool = False,
    baseline: Score | None = BASELINE,
) -> Frequency | None:
    suggestion = suggest_frequency(
        current,
        may_space_out=may_space_out,
        missed_since_change=missed,
        baseline=baseline,
        phq9_history=history,
        rules=RULES,
    )
    return None if suggestion is None else suggestion.frequency


@pytest.mark.parametrize(
    ("current", "back_to"),
    [
        (Frequency.EVERY_2_WEEKS, Frequency.WEEKLY),
        (Frequency.WEEKLY, Frequency.TWICE_WEEKLY),
    ],
)
def test_missed_sessions_with_worsening_phq9_step_back(
    current: Frequency, back_to: Frequency
) -> None:
    assert suggest(current, phq9(8, 14), missed=1, may_space_out=True) is back_to


def test_the_step_back_reason_says_why() -> None:
    suggestion = suggest_frequency(
        Frequency.WEEKLY,
        may_space_out=False,
        missed_since_change=2,
        baseline=BASELINE,
        phq9_history=phq9(8, 14),
        rules=RULES,
    )
    assert suggestion is not None
    assert "2 missed" in suggestion.reason
    assert "8 -> 14" in suggestion.reason


def test_twice_weekly_has_nowhere_to_step_back_to() -> None:
    assert suggest(Frequency.TWICE_WEEKLY, phq9(8, 14), missed=1) is None


def test_worsening_without_a_missed_session_is_no_step_back() -> None:
    # 20 -> 14 is not a response, so nothing at all is suggested.
    assert suggest(Frequency.WEEKLY, phq9(8, 14)) is None


@pytest.mark.parametrize("history", [phq9(9, 9), phq9(9, 7)])
def test_missed_sessions_without_worsening_are_no_step_back(history: list[Score]) -> None:
    assert suggest(Frequency.EVERY_2_WEEKS, history, missed=1) is None
    # Nor a step forward: missed sessions block spacing out.
    assert suggest(Frequency.WEEKLY, history, missed=1, may_space_out=True) is None


def test_a_single_score_cannot_show_worsening() -> None:
    assert suggest(Frequency.WEEKLY, phq9(14), missed=3) is None


def test_response_holding_spaces_weekly_out_only_when_allowed() -> None:
    history = phq9(12, 9)  # 55% below baseline 20: response
    assert suggest(Frequency.WEEKLY, history, may_space_out=True) is Frequency.EVERY_2_WEEKS
    assert suggest(Frequency.WEEKLY, history, may_space_out=False) is None


def test_remission_holding_spaces_out_and_says_so() -> None:
    suggestion = suggest_frequency(
        Frequency.WEEKLY,
        may_space_out=True,
        missed_since_change=0,
        baseline=BASELINE,
        phq9_history=phq9(5, 3),
        rules=RULES,
    )
    assert suggestion is not None
    assert suggestion.frequency is Frequency.EVERY_2_WEEKS
    assert "remission" in suggestion.reason


@pytest.mark.parametrize("may_space_out", [True, False])
def test_twice_weekly_with_response_goes_to_weekly(may_space_out: bool) -> None:
    assert suggest(Frequency.TWICE_WEEKLY, phq9(9), may_space_out=may_space_out) is Frequency.WEEKLY


def test_every_2_weeks_is_already_the_lowest_frequency() -> None:
    assert suggest(Frequency.EVERY_2_WEEKS, phq9(2), may_space_out=True) is None


@pytest.mark.parametrize("current", list(Frequency))
def test_no_suggestion_to_space_out_without_response(current: Frequency) -> None:
    # 20 -> 11: a 45% reduction and not below 5.
    assert suggest(current, phq9(11), may_space_out=True) is None


def test_no_suggestion_without_scores_or_a_phq9_baseline() -> None:
    assert suggest(Frequency.WEEKLY, [], may_space_out=True) is None
    assert suggest(Frequency.WEEKLY, phq9(3), may_space_out=True, baseline=None) is None
    madrs = Score(scale=Scale.MADRS, total=40)
    assert suggest(Frequency.WEEKLY, phq9(3), may_space_out=True, baseline=madrs) is None


@pytest.mark.parametrize(
    ("latest", "relapse"),
    [
        (9, False),  # below the relapse threshold (and still a 50% response)
        (10, True),  # at the threshold: 18 -> 10 is only a 44% reduction
        (11, True),
        (27, True),
    ],
)
def test_is_relapse_at_the_threshold(latest: int, relapse: bool) -> None:
    baseline = Score(scale=Scale.PHQ9, total=18)
    assert is_relapse(baseline, Score(scale=Scale.PHQ9, total=latest), RULES) is relapse


def test_a_high_score_that_is_still_a_response_is_no_relapse() -> None:
    # Baseline 27, latest 12: above 10 but still a 56% reduction.
    baseline = Score(scale=Scale.PHQ9, total=27)
    assert not is_relapse(baseline, Score(scale=Scale.PHQ9, total=12), RULES)
    assert is_relapse(baseline, Score(scale=Scale.PHQ9, total=14), RULES)


def test_relapse_is_judged_on_phq9_only() -> None:
    madrs_baseline = Score(scale=Scale.MADRS, total=40)
    madrs_latest = Score(scale=Scale.MADRS, total=40)
    assert not is_relapse(madrs_baseline, madrs_latest, RULES)
    assert not is_relapse(BASELINE, madrs_latest, RULES)
