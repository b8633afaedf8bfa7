"""domain.protocol: the defaults from DESIGN.md, validated clinic overrides, frequency steps."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from pydantic import ValidationError

from domain.protocol import (
    PROTOCOL_VERSION,
    Calendar,
    DosingRules,
    Frequency,
    Phases,
    Protocol,
    Scales,
)


def test_dosing_defaults() -> None:
    dosing = Protocol().dosing
    assert dosing.first_dose_mg == 56
    assert dosing.device_mg == 28
    assert dosing.allowed_doses_mg == (56, 84)
    assert dosing.step_mg == 28
    assert dosing.minutes_between_devices == 5


def test_phase_defaults() -> None:
    phases = Protocol().phases
    assert phases.induction_weeks == 4
    assert phases.fixed_weekly_maintenance_weeks == 4  # weeks 5-8 weekly
    assert phases.follow_up_check_in_weeks == (2, 4, 12)
    assert phases.maintenance_weeks is None


def test_scale_defaults() -> None:
    scales = Protocol().scales
    assert scales.phq9_remission_below == 5
    assert scales.madrs_remission_at_most == 12
    assert scales.response_reduction == 0.5


def test_calendar_defaults() -> None:
    calendar = Protocol().calendar
    assert calendar.session_time == time(9, 0)
    assert len(calendar.twice_weekly_days) == 2
    assert calendar.min_days_between_sessions == 2


def test_default_version() -> None:
    assert Protocol().version == PROTOCOL_VERSION


def test_with_overrides_merges_deeply_and_records_a_clinic_version() -> None:
    base = Protocol()
    tuned = base.with_overrides({"calendar": {"twice_weekly_days": (1, 4)}})
    assert tuned.calendar.twice_weekly_days == (1, 4)
    # Untouched fields of the same section keep their defaults.
    assert tuned.calendar.session_time == time(9, 0)
    assert tuned.calendar.min_days_between_sessions == 2
    assert tuned.dosing == base.dosing
    assert tuned.version == f"{PROTOCOL_VERSION}+clinic"
    assert tuned.version != base.version
    # The original is unchanged (frozen, not mutated by the merge).
    assert base.calendar.twice_weekly_days == (0, 3)


def test_with_overrides_uses_an_explicit_version() -> None:
    tuned = Protocol().with_overrides({"scales": {"madrs_remission_at_most": 10}}, version="c7-2")
    assert tuned.version == "c7-2"
    assert tuned.scales.madrs_remission_at_most == 10
    assert tuned.scales.phq9_remission_below == 5


def test_with_overrides_cannot_smuggle_the_version_in_the_overrides() -> None:
    tuned = Protocol().with_overrides({"version": "2026.1"})
    assert tuned.version == f"{PROTOCOL_VERSION}+clinic"


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(
            {"calendar": {"twice_weekly_days": (0, 1), "min_days_between_sessions": 2}},
            id="weekdays-too-close",
        ),
        pytest.param({"calendar": {"twice_weekly_days": (0, 6)}}, id="sun-mon-too-close"),
        pytest.param({"calendar": {"twice_weekly_days": (2, 2)}}, id="same-weekday"),
        pytest.param({"calendar": {"twice_weekly_days": (0, 7)}}, id="weekday-7"),
        pytest.param({"calendar": {"twice_weekly_days": (0, 2, 4)}}, id="three-days"),
        pytest.param({"calendar": {"min_days_between_sessions": 4}}, id="gap-impossible"),
        pytest.param({"dosing": {"allowed_doses_mg": (56, 70)}}, id="dose-not-multiple-of-28"),
        pytest.param(
            {"dosing": {"first_dose_mg": 84, "allowed_doses_mg": (56,)}},
            id="first-dose-not-allowed",
        ),
        pytest.param({"dosing": {"first_dose_mg": 42}}, id="first-dose-not-multiple"),
        pytest.param({"dosing": {"step_mg": 14}}, id="step-not-multiple"),
        pytest.param({"dosing": {"device_mg": 0}}, id="zero-device"),
        pytest.param({"dosing": {"step_mg": 0}}, id="zero-step"),
        pytest.param({"dosing": {"allowed_doses_mg": (-28, 56)}}, id="negative-dose"),
        pytest.param({"scales": {"phq9_remission_below": 28}}, id="phq9-out-of-range"),
        pytest.param({"scales": {"response_reduction": 0}}, id="zero-response"),
        pytest.param({"phases": {"induction_weeks": 0}}, id="no-induction"),
        pytest.param({"phases": {"follow_up_check_in_weeks": (4, 2)}}, id="check-ins-unsorted"),
        pytest.param({"phases": {"follow_up_check_in_weeks": (2, 2)}}, id="check-ins-repeat"),
        pytest.param({"phases": {"follow_up_check_in_weeks": (0, 2)}}, id="check-in-week-0"),
        pytest.param({"dosing": {"frist_dose_mg": 56}}, id="typo-field"),
        pytest.param({"schedule": {}}, id="unknown-section"),
    ],
)
def test_bad_overrides_raise_validation_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Protocol().with_overrides(overrides)


def test_valid_dosing_override_with_a_28_mg_dose() -> None:
    tuned = Protocol().with_overrides({"dosing": {"allowed_doses_mg": (28, 56, 84)}})
    assert tuned.dosing.allowed_doses_mg == (28, 56, 84)
    assert tuned.dosing.first_dose_mg == 56


def test_sections_validate_on_their_own() -> None:
    with pytest.raises(ValidationError):
        DosingRules(allowed_doses_mg=(56, 85))
    with pytest.raises(ValidationError):
        Calendar(twice_weekly_days=(3, 4))
    with pytest.raises(ValidationError):
        Scales(madrs_remission_at_most=61)
    with pytest.raises(ValidationError):
        Phases(follow_up_check_in_weeks=(2, 12, 4))
    # A gap of exactly min_days_between_sessions across the weekend is allowed (Fri -> Sun).
    assert Calendar(twice_weekly_days=(4, 6)).twice_weekly_days == (4, 6)


def test_protocol_is_frozen() -> None:
    protocol = Protocol()
    with pytest.raises(ValidationError):
        protocol.version = "x"  # type: ignore[misc]


def test_protocol_round_trips_through_json() -> None:
    tuned = Protocol().with_overrides({"calendar": {"session_time": "10:30"}}, version="v2")
    again = Protocol.model_validate_json(tuned.model_dump_json())
    assert again == tuned
    assert again.calendar.session_time == time(10, 30)


@pytest.mark.parametrize(
    ("frequency", "more", "less"),
    [
        (Frequency.TWICE_WEEKLY, Frequency.TWICE_WEEKLY, Frequency.WEEKLY),
        (Frequency.WEEKLY, Frequency.TWICE_WEEKLY, Frequency.EVERY_2_WEEKS),
        (Frequency.EVERY_2_WEEKS, Frequency.WEEKLY, Frequency.EVERY_2_WEEKS),
    ],
)
def test_frequency_steps(frequency: Frequency, more: Frequency, less: Frequency) -> None:
    assert frequency.more_frequent is more
    assert frequency.less_frequent is less
