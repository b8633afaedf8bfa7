"""The session calendar, in the clinic's local time."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.protocol import Calendar, Frequency

_INTERVAL_DAYS = {Frequency.WEEKLY: 7, Frequency.EVERY_2_WEEKS: 14}


def next_session_at(
    frequency: Frequency,
    *,
    not_before: datetime,
    previous: datetime | None,
    calendar: Calendar,
    timezone: str,
) -> datetime:
    """The first session slot at or after `not_before` that keeps the frequency's spacing.

    Twice weekly falls on the clinic's two weekdays, never closer than the minimum gap; weekly
    and every 2 weeks keep the weekday of the previous session. Times are wall-clock times in
    the clinic's zone, so a session stays at 09:00 across a DST change.
    """
    zone = ZoneInfo(timezone)
    day = not_before.astimezone(zone).date()
    previous_day = None if previous is None else previous.astimezone(zone).date()
    if previous_day is not None:
        gap = _INTERVAL_DAYS.get(frequency, calendar.min_days_between_sessions)
        day = max(day, previous_day + timedelta(days=gap))
    while not (
        _is_session_day(day, frequency, calendar, previous_day)
        and _slot(day, calendar, zone) >= not_before
    ):
        day += timedelta(days=1)
    return _slot(day, calendar, zone)


def _is_session_day(
    day: date, frequency: Frequency, calendar: Calendar, previous_day: date | None
) -> bool:
    if frequency is Frequency.TWICE_WEEKLY:
        return day.weekday() in calendar.twice_weekly_days
    return previous_day is None or day.weekday() == previous_day.weekday()


def _slot(day: date, calendar: Calendar, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, calendar.session_time, tzinfo=zone)
