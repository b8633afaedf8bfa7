"""The vitals classifier at every threshold, on both sides, and its monotonicity (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.conditions import Condition, Level
from domain.protocol import VitalsLimits
from domain.vitals import SignsAtRest, VitalSigns, classify

T0 = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)
LIMITS = VitalsLimits()


def reading(minutes: float = 0, **signs: int | bool) -> VitalSigns:
    return VitalSigns(taken_at=T0 + timedelta(minutes=minutes), **signs)


def judged(now: VitalSigns, *earlier: VitalSigns) -> tuple[Level, set[Condition]]:
    result = classify(now, earlier, LIMITS)
    return result.level, {f.condition for f in result.findings}


@pytest.mark.parametrize(
    ("signs", "level", "conditions"),
    [
        ({"systolic": 140, "diastolic": 90}, Level.NORMAL, set()),
        ({"systolic": 141, "diastolic": 90}, Level.HOLD, {Condition.BP_ELEVATED}),
        ({"systolic": 140, "diastolic": 91}, Level.HOLD, {Condition.BP_ELEVATED}),
        ({"systolic": 179, "diastolic": 109}, Level.HOLD, {Condition.BP_ELEVATED}),
        ({"systolic": 180, "diastolic": 100}, Level.HOLD, {Condition.BP_SEVERE}),
        ({"systolic": 170, "diastolic": 110}, Level.HOLD, {Condition.BP_SEVERE}),
        ({"systolic": 199, "diastolic": 119}, Level.HOLD, {Condition.BP_SEVERE}),
        ({"systolic": 200, "diastolic": 100}, Level.CRITICAL, {Condition.BP_CRITICAL}),
        ({"systolic": 150, "diastolic": 120}, Level.CRITICAL, {Condition.BP_CRITICAL}),
        ({"spo2": 90}, Level.NORMAL, set()),
        ({"spo2": 89}, Level.CRITICAL, {Condition.SPO2_LOW}),
        ({"moaas": 2}, Level.NORMAL, set()),
        ({"moaas": 1}, Level.CRITICAL, {Condition.SEDATION}),
        ({"moaas": 0}, Level.CRITICAL, {Condition.SEDATION}),
        ({"heart_rate": 121}, Level.NORMAL, set()),
        ({"hypertensive_crisis_symptoms": True}, Level.CRITICAL, {Condition.HYPERTENSIVE_CRISIS}),
    ],
)
def test_one_reading_at_each_threshold(
    signs: dict[str, int | bool], level: Level, conditions: set[Condition]
) -> None:
    assert judged(reading(**signs)) == (level, conditions)


@pytest.mark.parametrize(
    ("minutes_apart", "level"),
    [
        (4, Level.HOLD),  # too close: not yet "5 min apart"
        (5, Level.CRITICAL),
        (30, Level.CRITICAL),  # the edge of the protocol's window
        (31, Level.HOLD),  # outside it: an old reading no longer counts
    ],
)
def test_a_severe_bp_twice_counts_within_the_window(minutes_apart: int, level: Level) -> None:
    first = reading(0, systolic=185, diastolic=100)
    again = reading(minutes_apart, systolic=182, diastolic=112)

    assert judged(again, first)[0] is level


@pytest.mark.parametrize(
    ("earlier", "now", "sustained"),
    [
        (121, 121, True),
        (120, 121, False),
        (121, 120, False),
    ],
)
def test_a_heart_rate_above_120_is_urgent_only_when_sustained(
    earlier: int, now: int, sustained: bool
) -> None:
    level, conditions = judged(reading(5, heart_rate=now), reading(0, heart_rate=earlier))

    assert (Condition.HEART_RATE_SUSTAINED in conditions) is sustained
    assert level is (Level.URGENT if sustained else Level.NORMAL)


def test_a_high_heart_rate_long_ago_does_not_make_one_now_sustained() -> None:
    level, _ = judged(reading(31, heart_rate=130), reading(0, heart_rate=130))

    assert level is Level.NORMAL


def test_the_two_reading_rules_look_at_the_latest_earlier_reading_by_time_taken() -> None:
    # Sent out of order: the latest earlier heart rate is 80, taken after the 130.
    level, _ = judged(
        reading(10, heart_rate=130), reading(6, heart_rate=80), reading(2, heart_rate=130)
    )

    assert level is Level.NORMAL


SIGN_RANGES = {
    "systolic": (90, 260),
    "diastolic": (40, 190),
    "heart_rate": (30, 200),
    "spo2": (60, 100),
    "moaas": (0, 5),
}


@st.composite
def full_readings(draw: st.DrawFn) -> dict[str, int]:
    signs = {name: draw(st.integers(low, high)) for name, (low, high) in SIGN_RANGES.items()}
    signs["diastolic"] = min(signs["diastolic"], signs["systolic"] - 10)
    return signs


WORSE = {"systolic": 1, "diastolic": 1, "heart_rate": 1, "spo2": -1, "moaas": -1}


@given(
    earlier=full_readings(),
    now=full_readings(),
    sign=st.sampled_from(sorted(WORSE)),
    by=st.integers(1, 40),
)
def test_making_any_one_sign_worse_never_lowers_the_level(
    earlier: dict[str, int], now: dict[str, int], sign: str, by: int
) -> None:
    worse = {**now, sign: now[sign] + WORSE[sign] * by}
    low, high = SIGN_RANGES[sign]
    assume(low <= worse[sign] <= high and worse["diastolic"] < worse["systolic"])
    before = reading(0, **earlier)

    assert judged(reading(5, **worse), before)[0] >= judged(reading(5, **now), before)[0]


@pytest.mark.parametrize(
    ("signs", "refusal"),
    [
        ({"systolic": 128, "diastolic": 80, "heart_rate": 80, "spo2": 97, "moaas": 5}, None),
        ({"heart_rate": 80, "spo2": 97, "moaas": 5}, "no blood pressure"),
        ({"systolic": 128, "diastolic": 80, "spo2": 97, "moaas": 5}, "no heart rate"),
        ({"systolic": 128, "diastolic": 80, "heart_rate": 80, "moaas": 5}, "no SpO2"),
        ({"systolic": 128, "diastolic": 80, "heart_rate": 80, "spo2": 97}, "no sedation"),
        ({"systolic": 141, "diastolic": 80, "heart_rate": 80, "spo2": 97, "moaas": 5}, "blood"),
        ({"systolic": 128, "diastolic": 80, "heart_rate": 121, "spo2": 97, "moaas": 5}, "heart"),
        ({"systolic": 128, "diastolic": 80, "heart_rate": 80, "spo2": 89, "moaas": 5}, "SpO2"),
        ({"systolic": 128, "diastolic": 80, "heart_rate": 80, "spo2": 97, "moaas": 4}, "MOAA/S"),
    ],
)
def test_discharge_needs_every_sign_present_and_safe(
    signs: dict[str, int], refusal: str | None
) -> None:
    why = SignsAtRest(**signs).refusal(LIMITS)

    assert why == refusal if refusal is None else why is not None and refusal in why
