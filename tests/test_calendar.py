"""domain.calendar.next_session_at: session slots in the clinic's local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import next_session_at
from domain.protocol import Calendar, Frequency

ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "UTC",
    "America/Los_Angeles",
)
DEFAULT = Calendar()
SESSION_TIME = time(9, 0)
INTERVAL = {Frequency.WEEKLY: 7, Frequency.EVERY_2_WEEKS: 14}

zones = st.sampled_from(ZONES)
# Wide enough to cross many DST changes in every zone, both hemispheres.
instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.just(UTC),
)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    """Any valid calendar: two weekdays at least `min_days_between_sessions` apart."""
    min_gap = draw(st.integers(min_value=1, max_value=3))
    first = draw(st.integers(min_value=0, max_value=6))
    gap = draw(st.integers(min_value=min_gap, max_value=7 - min_gap))
    second = (first + gap) % 7
    return Calendar(twice_weekly_days=(first, second), min_days_between_sessions=min_gap)


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def local_day(moment: datetime, zone: str) -> date:
    return local(moment, zone).date()


def sessions(
    frequency: Frequency,
    start: datetime,
    delays: list[timedelta],
    calendar: Calendar,
    zone: str,
) -> list[datetime]:
    """A sequence where each next slot is asked for `delay` after the previous session."""
    out = [
        next_session_at(
            frequency, not_before=start, previous=None, calendar=calendar, timezone=zone
        )
    ]
    for delay in delays:
        out.append(
            next_session_at(
                frequency,
                not_before=out[-1] + delay,
                previous=out[-1],
                calendar=calendar,
                timezone=zone,
            )
        )
    return out


# --- twice weekly --------------------------------------------------------------------------------

# Up to ~4 days after a session (the usual "ask for the next one after this one ends").
short_delays = st.lists(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4)), min_size=1, max_size=10
)


@settings(max_examples=150, deadline=None)
@given(start=instants, zone=zones, calendar=calendars(), delays=short_delays)
def test_twice_weekly_invariants(
    start: datetime, zone: str, calendar: Calendar, delays: list[timedelta]
) -> None:
    slots = sessions(Frequency.TWICE_WEEKLY, start, delays, calendar, zone)
    assert slots[0] >= start
    for slot in slots:
        here = local(slot, zone)
        assert here.weekday() in calendar.twice_weekly_days
        assert here.time() == SESSION_TIME
    for earlier, later in pairwise(slots):
        gap_days = (local_day(later, zone) - local_day(earlier, zone)).days
        assert gap_days >= calendar.min_days_between_sessions
    per_week: dict[tuple[int, int], int] = {}
    for slot in slots:
        year, week, _ = local_day(slot, zone).isocalendar()
        per_week[(year, week)] = per_week.get((year, week), 0) + 1
    assert max(per_week.values()) <= 2


@settings(max_examples=100, deadline=None)
@given(start=instants, zone=zones, calendar=calendars())
def test_eight_twice_weekly_sessions_take_at_most_four_weeks(
    start: datetime, zone: str, calendar: Calendar
) -> None:
    slots = sessions(Frequency.TWICE_WEEKLY, start, [timedelta(0)] * 7, calendar, zone)
    assert len(slots) == 8
    assert len(set(slots)) == 8
    assert (local_day(slots[-1], zone) - local_day(start, zone)).days <= 28
    # And not bunched up either: 4 pairs span at least three full weeks.
    assert (local_day(slots[-1], zone) - local_day(slots[0], zone)).days >= 21


@settings(max_examples=150, deadline=None)
@given(
    start=instants,
    zone=zones,
    calendar=calendars(),
    frequency=st.sampled_from(list(Frequency)),
    previous_offset=st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=30)),
    use_previous=st.booleans(),
)
def test_result_is_never_before_not_before_and_always_at_session_time(
    start: datetime,
    zone: str,
    calendar: Calendar,
    frequency: Frequency,
    previous_offset: timedelta,
    use_previous: bool,
) -> None:
    previous = start + previous_offset if use_previous else None
    slot = next_session_at(
        frequency, not_before=start, previous=previous, calendar=calendar, timezone=zone
    )
    assert slot >= start
    assert local(slot, zone).time() == SESSION_TIME
    # It is the first slot: no more than a week (two for every 2 weeks) past the later of
    # not_before and the previous session's spacing.
    earliest = start
    if previous is not None:
        gap = INTERVAL.get(frequency, calendar.min_days_between_sessions)
        earliest = max(earliest, previous + timedelta(days=gap))
    assert slot - earliest < timedelta(days=8)


# --- weekly and every 2 weeks --------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    start=instants,
    zone=zones,
    frequency=st.sampled_from([Frequency.WEEKLY, Frequency.EVERY_2_WEEKS]),
    fractions=st.lists(st.floats(min_value=0, max_value=0.85), min_size=1, max_size=8),
)
def test_weekly_and_every_2_weeks_keep_exact_local_spacing(
    start: datetime, zone: str, frequency: Frequency, fractions: list[float]
) -> None:
    interval = INTERVAL[frequency]
    delays = [timedelta(days=interval * f) for f in fractions]
    slots = sessions(frequency, start, delays, DEFAULT, zone)
    assert slots[0] >= start
    weekday = local(slots[0], zone).weekday()
    for earlier, later in pairwise(slots):
        assert (local_day(later, zone) - local_day(earlier, zone)).days == interval
    for slot in slots:
        assert local(slot, zone).time() == SESSION_TIME
        assert local(slot, zone).weekday() == weekday


@settings(max_examples=100, deadline=None)
@given(
    previous_start=instants,
    zone=zones,
    frequency=st.sampled_from([Frequency.WEEKLY, Frequency.EVERY_2_WEEKS]),
    pause=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90)),
)
def test_weekly_after_a_pause_keeps_the_weekday(
    previous_start: datetime, zone: str, frequency: Frequency, pause: timedelta
) -> None:
    previous = next_session_at(
        frequency, not_before=previous_start, previous=None, calendar=DEFAULT, timezone=zone
    )
    not_before = previous + pause
    slot = next_session_at(
        frequency, not_before=not_before, previous=previous, calendar=DEFAULT, timezone=zone
    )
    days = (local_day(slot, zone) - local_day(previous, zone)).days
    assert days >= INTERVAL[frequency]
    assert days % 7 == 0
    assert slot >= not_before
    # The first such slot: unless it is the regular one, the slot a week earlier was too early.
    if days > INTERVAL[frequency]:
        week_earlier = datetime.combine(
            local_day(slot, zone) - timedelta(days=7), SESSION_TIME, tzinfo=ZoneInfo(zone)
        )
        assert week_earlier < not_before


# --- concrete examples ---------------------------------------------------------------------------


def ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("America/New_York"))


def test_start_on_a_wednesday_goes_to_thursday_then_monday() -> None:
    wednesday = ny(2026, 1, 7, 14, 0)
    first = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=wednesday,
        previous=None,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert first == ny(2026, 1, 8, 9, 0)
    second = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=first + timedelta(hours=3),
        previous=first,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert second == ny(2026, 1, 12, 9, 0)


def test_monday_before_nine_is_the_same_day_and_after_nine_is_thursday() -> None:
    early = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=ny(2026, 1, 5, 8, 59),
        previous=None,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    late = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=ny(2026, 1, 5, 9, 1),
        previous=None,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert early == ny(2026, 1, 5, 9, 0)
    assert late == ny(2026, 1, 8, 9, 0)


def test_exactly_nine_is_not_before() -> None:
    nine = ny(2026, 1, 5, 9, 0)
    slot = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=nine,
        previous=None,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert slot == nine


def test_dst_week_in_new_york_stays_at_nine_local() -> None:
    # US DST starts Sunday 2026-03-08: EST (-5) before, EDT (-4) after.
    thursday = ny(2026, 3, 5, 9, 0)
    monday = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=thursday + timedelta(hours=3),
        previous=thursday,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert monday == ny(2026, 3, 9, 9, 0)
    assert thursday.utcoffset() == timedelta(hours=-5)
    assert monday.utcoffset() == timedelta(hours=-4)
    assert monday.astimezone(UTC).hour == 13
    assert thursday.astimezone(UTC).hour == 14
    # Four local days, but only 95 real hours (aware subtraction across zones is absolute).
    assert monday.astimezone(UTC) - thursday.astimezone(UTC) == timedelta(hours=95)


def test_weekly_across_fall_back_is_seven_local_days_and_169_hours() -> None:
    # US DST ends Sunday 2026-11-01.
    previous = ny(2026, 10, 29, 9, 0)
    slot = next_session_at(
        Frequency.WEEKLY,
        not_before=previous,
        previous=previous,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert slot == ny(2026, 11, 5, 9, 0)
    assert slot.astimezone(UTC) - previous.astimezone(UTC) == timedelta(days=7, hours=1)


def test_sydney_dst_start_keeps_nine_local() -> None:
    # Australia/Sydney DST starts Sunday 2026-10-04 (AEST +10 -> AEDT +11).
    zone = ZoneInfo("Australia/Sydney")
    thursday = datetime(2026, 10, 1, 9, 0, tzinfo=zone)
    slot = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=thursday,
        previous=thursday,
        calendar=DEFAULT,
        timezone="Australia/Sydney",
    )
    assert slot == datetime(2026, 10, 5, 9, 0, tzinfo=zone)
    assert slot.utcoffset() == timedelta(hours=11)
    assert slot.astimezone(UTC) == datetime(2026, 10, 4, 22, 0, tzinfo=UTC)


def test_not_before_in_another_zone_is_converted_to_the_clinic_zone() -> None:
    # 2026-01-08 05:00 UTC is Wednesday 21:00 in Los Angeles: Thursday's 09:00 LA slot is next.
    slot = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=datetime(2026, 1, 8, 5, 0, tzinfo=UTC),
        previous=None,
        calendar=DEFAULT,
        timezone="America/Los_Angeles",
    )
    assert slot == datetime(2026, 1, 8, 9, 0, tzinfo=ZoneInfo("America/Los_Angeles"))


def test_weekly_after_a_pause_resumes_on_the_same_weekday() -> None:
    monday = ny(2026, 3, 2, 9, 0)
    resumed = next_session_at(
        Frequency.WEEKLY,
        not_before=ny(2026, 3, 10, 10, 0),  # the Tuesday after next, after 09:00
        previous=monday,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert resumed == ny(2026, 3, 16, 9, 0)
    assert resumed.weekday() == monday.weekday()


def test_every_2_weeks_is_fourteen_days_even_when_asked_early() -> None:
    previous = ny(2026, 2, 5, 9, 0)
    slot = next_session_at(
        Frequency.EVERY_2_WEEKS,
        not_before=previous + timedelta(days=1),
        previous=previous,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert slot == ny(2026, 2, 19, 9, 0)


def test_twice_weekly_rescheduled_session_keeps_the_minimum_gap() -> None:
    # Session moved to Wednesday: Thursday is too close (1 day), so Monday is next.
    wednesday = ny(2026, 1, 7, 9, 0)
    slot = next_session_at(
        Frequency.TWICE_WEEKLY,
        not_before=wednesday,
        previous=wednesday,
        calendar=DEFAULT,
        timezone="America/New_York",
    )
    assert slot == ny(2026, 1, 12, 9, 0)
