"""Protocol time versus real time: a course may run on a compressed clock (`time_scale`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

RESPONSE_SCALE_FLOOR = 1 / 1200
"""On a compressed clock, what staff must answer in real time (in-room minutes, the check-in
grace, clinician decisions) is compressed at most this much: two hours of monitoring last 6 s
and a 10-minute reading deadline 0.5 s, however fast the calendar runs."""
RECENT_FLOOR = timedelta(seconds=15)
"""On a compressed clock a reading stays recent at least this long in real time: the system's
own round trip (a reading stored, judged, then a dose or discharge checked against it) takes
seconds on a loaded machine, and must not make every set stale before it can be used."""


CLINICAL_YEARS = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
"""Every time a caller sends lies in these years: beyond them, the protocol's date arithmetic
(a grace period after a session in the year 9999, say) would overflow inside a workflow."""


def within_clinical_years(moment: datetime) -> datetime:
    earliest, latest = CLINICAL_YEARS
    if not earliest <= moment < latest:
        raise ValueError(f"must lie in the years {earliest.year} to {latest.year - 1}")
    return moment


ClinicalTime = Annotated[AwareDatetime, AfterValidator(within_clinical_years)]
"""A time a caller sends (a reading's, a device's, a session's new time)."""


class CourseClock(BaseModel):
    """Maps protocol time to real time around the course's start.

    With scale 1/8640 a protocol day lasts 10 real seconds. Protocol times (session dates,
    deadlines) are what the clinic sees; real times are what the workflow sleeps on.
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    anchor: datetime
    scale: float = Field(default=1.0, gt=0, le=1)

    def to_real(self, protocol_time: datetime) -> datetime:
        return self.anchor + (protocol_time - self.anchor) * self.scale

    def to_protocol(self, real_time: datetime) -> datetime:
        return self.anchor + (real_time - self.anchor) / self.scale

    def real_duration(self, protocol_duration: timedelta) -> timedelta:
        return protocol_duration * self.scale

    def response_duration(self, protocol_duration: timedelta) -> timedelta:
        """How long staff have, in real time, to answer within a protocol duration."""
        return protocol_duration * max(self.scale, RESPONSE_SCALE_FLOOR)

    def recency_window(self, protocol_duration: timedelta) -> timedelta:
        """How long, in real time, a reading stays recent: as staff answers, and never under
        `RECENT_FLOOR` on a compressed clock."""
        if self.scale == 1:
            return protocol_duration
        return max(self.response_duration(protocol_duration), RECENT_FLOOR)

    def staff_window(self, left: timedelta, at_least: timedelta) -> timedelta:
        """Real time staff have for something due `left` from now (protocol time). On a
        compressed clock never less than `at_least` at the response floor: a slot booked at short
        notice still leaves a real clinic time to act."""
        if self.scale == 1:
            return max(left, timedelta(0))
        return max(self.response_duration(left), self.response_duration(at_least))

    def real_delay_until(self, protocol_time: datetime, real_now: datetime) -> timedelta:
        """How long to sleep now until `protocol_time` (never negative)."""
        return max(self.to_real(protocol_time) - real_now, timedelta(0))
