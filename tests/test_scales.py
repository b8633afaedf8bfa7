"""domain.scales: PHQ-9 and MADRS scores, response and remission."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.protocol import Scales
from domain.scales import Scale, Score, benefit

RULES = Scales()


def phq9(total: int, item9: int | None = None) -> Score:
    return Score(scale=Scale.PHQ9, total=total, item9=item9)


def madrs(total: int) -> Score:
    return Score(scale=Scale.MADRS, total=total)


@pytest.mark.parametrize(("latest", "remission"), [(0, True), (4, True), (5, False), (6, False)])
def test_phq9_remission_is_below_5(latest: int, remission: bool) -> None:
    assert benefit(phq9(20), phq9(latest), RULES).remission is remission


@pytest.mark.parametrize(("latest", "remission"), [(0, True), (12, True), (13, False)])
def test_madrs_remission_is_at_most_12(latest: int, remission: bool) -> None:
    assert benefit(madrs(40), madrs(latest), RULES).remission is remission


@pytest.mark.parametrize(
    ("baseline", "latest", "response"),
    [
        (20, 10, True),
        (20, 11, False),
        (20, 0, True),
        (21, 10, True),
        (21, 11, False),
        (1, 0, True),
        (1, 1, False),
    ],
)
def test_phq9_response_is_a_50_percent_reduction(
    baseline: int, latest: int, response: bool
) -> None:
    assert benefit(phq9(baseline), phq9(latest), RULES).response is response


@pytest.mark.parametrize(
    ("baseline", "latest", "response"), [(30, 15, True), (30, 16, False), (60, 30, True)]
)
def test_madrs_response_is_a_50_percent_reduction(
    baseline: int, latest: int, response: bool
) -> None:
    assert benefit(madrs(baseline), madrs(latest), RULES).response is response


def test_remission_without_response() -> None:
    # Baseline 6, latest 4: only a 33% reduction, yet below 5.
    result = benefit(phq9(6), phq9(4), RULES)
    assert result.remission
    assert not result.response


def test_benefit_reports_the_numbers() -> None:
    result = benefit(phq9(24), phq9(9), RULES)
    assert result.scale is Scale.PHQ9
    assert (result.baseline, result.latest) == (24, 9)
    assert result.reduction == pytest.approx(0.625)
    assert result.response
    assert not result.remission


def test_worsening_is_a_negative_reduction() -> None:
    result = benefit(phq9(10), phq9(15), RULES)
    assert result.reduction == pytest.approx(-0.5)
    assert not result.response


def test_zero_baseline_is_never_a_response() -> None:
    result = benefit(phq9(0), phq9(0), RULES)
    assert not result.response
    assert result.reduction == 0.0


def test_mixed_scales_are_rejected() -> None:
    with pytest.raises(ValueError, match="same scale"):
        benefit(phq9(20), madrs(10), RULES)


def test_custom_rules_are_used() -> None:
    rules = Scales(response_reduction=0.4, phq9_remission_below=7)
    result = benefit(phq9(10), phq9(6), rules)
    assert result.response
    assert result.remission


@pytest.mark.parametrize(
    "data",
    [
        {"scale": "phq9", "total": 28},
        {"scale": "phq9", "total": -1},
        {"scale": "madrs", "total": 61},
        {"scale": "madrs", "total": -1},
        {"scale": "phq9", "total": 10, "item9": 4},
        {"scale": "phq9", "total": 10, "item9": -1},
        {"scale": "phq9", "total": 2, "item9": 3},
        {"scale": "madrs", "total": 20, "item9": 1},
        {"scale": "gad7", "total": 5},
        {"scale": "phq9", "total": 5, "extra": 1},
    ],
)
def test_invalid_scores_are_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Score.model_validate(data)


@pytest.mark.parametrize(
    ("scale", "total"), [(Scale.PHQ9, 0), (Scale.PHQ9, 27), (Scale.MADRS, 0), (Scale.MADRS, 60)]
)
def test_boundary_totals_are_accepted(scale: Scale, total: int) -> None:
    assert Score(scale=scale, total=total).total == total


def test_scale_maxima() -> None:
    assert Scale.PHQ9.maximum == 27
    assert Scale.MADRS.maximum == 60


@pytest.mark.parametrize(("item9", "follow_up"), [(None, False), (0, False), (1, True), (3, True)])
def test_item9_above_zero_needs_same_day_follow_up(item9: int | None, follow_up: bool) -> None:
    assert phq9(12, item9).needs_same_day_follow_up is follow_up


@settings(max_examples=300, deadline=None)
@given(data=st.data(), scale=st.sampled_from(list(Scale)))
def test_response_iff_at_least_half_the_baseline(data: st.DataObject, scale: Scale) -> None:
    baseline = data.draw(st.integers(min_value=1, max_value=scale.maximum))
    latest = data.draw(st.integers(min_value=0, max_value=scale.maximum))
    result = benefit(Score(scale=scale, total=baseline), Score(scale=scale, total=latest), RULES)
    # Exact integer arithmetic: reduction/baseline >= 1/2.
    assert result.response is (2 * (baseline - latest) >= baseline)
    if scale is Scale.PHQ9:
        assert result.remission is (latest < 5)
    else:
        assert result.remission is (latest <= 12)
