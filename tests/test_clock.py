"""domain.clock.CourseClock: protocol time versus real (possibly compressed) time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from domain.clock import ClinicalTime, CourseClock

ANCHOR = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEMO = 1 / 8640

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
scales = st.sampled_from([1.0, 0.5, 1 / 60, 1 / 3600, DEMO, 1 / 86400])


@settings(max_examples=200, deadline=None)
@given(data=st.data(), scale=scales)
def test_to_protocol_then_to_real_is_identity(data: st.DataObject, scale: float) -> None:
    # Real times near the anchor: within two protocol years of it, compressed.
    span = int(timedelta(days=730).total_seconds() * 1_000_000 * scale)
    real = ANCHOR + timedelta(microseconds=data.draw(st.integers(-span, span)))
    clock = CourseClock(anchor=ANCHOR, scale=scale)
    assert abs(clock.to_real(clock.to_protocol(real)) - real) <= timedelta(microseconds=1)


@settings(max_examples=200, deadline=None)
@given(protocol=instants, scale=scales)
def test_to_real_then_to_protocol_is_identity_up_to_resolution(
    protocol: datetime, scale: float
) -> None:
    """Real time has microsecond resolution, so a compressed clock loses up to 1/scale µs."""
    clock = CourseClock(anchor=ANCHOR, scale=scale)
    resolution = timedelta(microseconds=1 / scale)
    assert abs(clock.to_protocol(clock.to_real(protocol)) - protocol) <= resolution


@settings(max_examples=100, deadline=None)
@given(a=instants, b=instants, scale=scales)
def test_the_mapping_keeps_order(a: datetime, b: datetime, scale: float) -> None:
    clock = CourseClock(anchor=ANCHOR, scale=scale)
    if a <= b:
        assert clock.to_real(a) <= clock.to_real(b)
    else:
        assert clock.to_real(a) >= clock.to_real(b)


@settings(max_examples=100, deadline=None)
@given(moment=instants, anchor=instants)
def test_scale_one_is_the_identity(moment: datetime, anchor: datetime) -> None:
    clock = CourseClock(anchor=anchor)
    assert clock.scale == 1.0
    assert clock.to_real(moment) == moment
    assert clock.to_protocol(moment) == moment
    assert clock.real_duration(timedelta(days=3, hours=2)) == timedelta(days=3, hours=2)


def test_the_anchor_maps_to_itself() -> None:
    clock = CourseClock(anchor=ANCHOR, scale=DEMO)
    assert clock.to_real(ANCHOR) == ANCHOR
    assert clock.to_protocol(ANCHOR) == ANCHOR


def test_demo_scale_makes_a_day_last_ten_seconds() -> None:
    clock = CourseClock(anchor=ANCHOR, scale=DEMO)
    assert clock.real_duration(timedelta(days=1)) == timedelta(seconds=10)
    assert clock.to_real(ANCHOR + timedelta(days=1)) == ANCHOR + timedelta(seconds=10)
    assert clock.to_real(ANCHOR + timedelta(weeks=4)) == ANCHOR + timedelta(seconds=280)
    assert clock.to_protocol(ANCHOR + timedelta(seconds=10)) == ANCHOR + timedelta(days=1)
    # The 2 h post-dose monitoring lasts under a second.
    assert clock.real_duration(timedelta(hours=2)) == timedelta(microseconds=833333)


def test_real_delay_until_is_scaled_and_never_negative() -> None:
    clock = CourseClock(anchor=ANCHOR, scale=DEMO)
    session = ANCHOR + timedelta(days=3)
    assert clock.real_delay_until(session, real_now=ANCHOR) == timedelta(seconds=30)
    assert clock.real_delay_until(session, real_now=ANCHOR + timedelta(seconds=25)) == timedelta(
        seconds=5
    )
    assert clock.real_delay_until(session, real_now=ANCHOR + timedelta(minutes=5)) == timedelta(0)


@pytest.mark.parametrize("scale", [0, -1, 2])
def test_scale_must_be_in_zero_to_one(scale: float) -> None:
    with pytest.raises(ValidationError):
        CourseClock(anchor=ANCHOR, scale=scale)


def test_clock_is_frozen_and_serialisable() -> None:
    clock = CourseClock(anchor=ANCHOR, scale=DEMO)
    assert CourseClock.model_validate_json(clock.model_dump_json()) == clock
    with pytest.raises(ValidationError):
        clock.scale = 1.0  # type: ignore[misc]


def test_response_windows_are_compressed_no_more_than_the_floor() -> None:
    demo = CourseClock(anchor=ANCHOR, scale=1 / 86400)
    assert demo.response_duration(timedelta(hours=2)) == timedelta(seconds=6)
    assert demo.real_duration(timedelta(hours=2)) < demo.response_duration(timedelta(hours=2))


@given(scale=st.floats(min_value=1 / 86400, max_value=1))
def test_a_response_window_is_never_shorter_than_the_calendar_would_make_it(scale: float) -> None:
    clock = CourseClock(anchor=ANCHOR, scale=scale)
    window = timedelta(minutes=10)
    assert clock.real_duration(window) <= clock.response_duration(window) <= window


def test_staff_get_a_window_at_short_notice_only_on_a_compressed_clock() -> None:
    lead = timedelta(hours=2)
    demo = CourseClock(anchor=ANCHOR, scale=1 / 86400)
    real = CourseClock(anchor=ANCHOR, scale=1.0)
    assert demo.staff_window(timedelta(minutes=-30), lead) == timedelta(seconds=6)
    assert demo.staff_window(timedelta(hours=20), lead) == timedelta(seconds=60)
    assert real.staff_window(timedelta(minutes=-30), lead) == timedelta(0)
    assert real.staff_window(timedelta(hours=20), lead) == timedelta(hours=20)


@pytest.mark.parametrize(
    ("scale", "recent"),
    [
        (1.0, timedelta(minutes=30)),  # real time: the protocol's 30 minutes
        (1 / 60, timedelta(seconds=30)),  # compressed: as a staff answer
        (1 / 86_400, timedelta(seconds=15)),  # the demo's clock: never under the floor
    ],
)
def test_a_reading_stays_recent_as_staff_answers_but_never_under_the_floor(
    scale: float, recent: timedelta
) -> None:
    clock = CourseClock(anchor=ANCHOR, scale=scale)

    assert clock.recency_window(timedelta(minutes=30)) == recent


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2000, 1, 1, tzinfo=UTC), True),
        (datetime(2199, 12, 31, 23, 59, tzinfo=UTC), True),
        (datetime(2200, 1, 1, tzinfo=UTC), False),
        (datetime(9999, 12, 31, tzinfo=UTC), False),
    ],
)
def test_a_callers_time_lies_in_the_clinical_years(moment: datetime, accepted: bool) -> None:
    adapter: TypeAdapter[datetime] = TypeAdapter(ClinicalTime)
    if accepted:
        assert adapter.validate_python(moment) == moment
    else:
        with pytest.raises(ValidationError, match="must lie in the years 2000 to 2199"):
            adapter.validate_python(moment)
