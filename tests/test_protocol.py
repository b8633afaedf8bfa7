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
        pytest.param({"dosing": {"allowed_doses_mg": (84,)}}, id="first-dose-not-allowed"),
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


LABEL_BOUNDS = [
    ("dosing", "allowed_doses_mg", (28, 56, 84), "allowed_doses_mg must be among"),
    ("dosing", "allowed_doses_mg", (56, 84, 112), "allowed_doses_mg must be among"),
    ("dosing", "device_mg", 14, "greater than or equal to 28"),
    ("dosing", "first_dose_mg", 84, "less than or equal to 56"),
    ("dosing", "minutes_between_devices", 2, "greater than or equal to 5"),
    ("session", "min_monitoring_minutes", 30, "greater than or equal to 120"),
    ("session", "min_monitoring_minutes", 10**9, "less than or equal to 480"),
    ("session", "bp_check_after_minutes", 90, "less than or equal to 50"),
    ("session", "rems_form_due_days", 14, "less than or equal to 7"),
    ("session", "reading_due_within_minutes", 10**12, "less than or equal to 30"),
    ("session", "reminder_hours_before", (10**9,), "less than or equal to 168"),
    ("phases", "decision_overdue_hours", 10**15, "less than or equal to 168"),
    ("phases", "outcome_grace_hours", 10**15, "less than or equal to 72"),
    ("phases", "maintenance_weeks", 10**9, "less than or equal to 520"),
]
VITALS_BOUNDS = [
    ("hold_above_systolic", 150, "less than or equal to 140"),
    ("hold_above_diastolic", 95, "less than or equal to 90"),
    ("critical_repeat_systolic", 190, "less than or equal to 180"),
    ("critical_repeat_diastolic", 115, "less than or equal to 110"),
    ("critical_repeat_apart_minutes", 10, "less than or equal to 5"),
    ("two_reading_window_minutes", 5, "greater than or equal to 15"),
    ("critical_once_systolic", 250, "less than or equal to 200"),
    ("critical_once_diastolic", 130, "less than or equal to 120"),
    ("critical_spo2_below", 50, "greater than or equal to 90"),
    ("critical_moaas_at_most", 0, "greater than or equal to 1"),
    ("urgent_heart_rate_above", 150, "less than or equal to 120"),
]


@pytest.mark.parametrize(("section", "field", "value", "bound"), LABEL_BOUNDS)
def test_a_value_beyond_the_label_is_refused_naming_its_bound(
    section: str, field: str, value: object, bound: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Protocol().with_overrides({section: {field: value}})
    assert field in str(refused.value) and bound in str(refused.value)


@pytest.mark.parametrize(("field", "value", "bound"), VITALS_BOUNDS)
def test_an_alarm_looser_than_the_defaults_is_refused_naming_its_bound(
    field: str, value: int, bound: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Protocol().with_overrides({"session": {"vitals": {field: value}}})
    assert field in str(refused.value) and bound in str(refused.value)


def test_a_stricter_clinic_is_accepted() -> None:
    stricter = {"min_monitoring_minutes": 150, "vitals": {"critical_spo2_below": 92}}
    tuned = Protocol().with_overrides({"session": stricter, "dosing": {"allowed_doses_mg": (56,)}})
    assert tuned.session.min_monitoring_minutes == 150
    assert tuned.session.vitals.critical_spo2_below == 92


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
