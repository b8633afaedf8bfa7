"""What patients and drivers are sent. No names and no drug name: a message may be read by
someone else."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

REMINDER_SUBJECT = "Reminder: your treatment appointment"


def appointment_time(scheduled_at: datetime, clinic_timezone: str) -> str:
    """In the clinic's time zone, e.g. "Tuesday 3 March 2026 at 09:00 EST"."""
    local = scheduled_at.astimezone(ZoneInfo(clinic_timezone))
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M %Z}"


def reminder_text(scheduled_at: datetime, clinic_timezone: str) -> str:
    return (
        f"Reminder: your treatment appointment is on "
        f"{appointment_time(scheduled_at, clinic_timezone)}.\n"
        "Before your dose: no food for 2 hours and no liquids for 30 minutes.\n"
        "If you use a nasal corticosteroid or decongestant spray, use it at least 1 hour before.\n"
        "Arrange a ride home: you must not drive until the next day, after a restful sleep."
    )


def transport_request_text(scheduled_at: datetime, clinic_timezone: str) -> str:
    return (
        "You are named as the ride home after a clinic appointment on "
        f"{appointment_time(scheduled_at, clinic_timezone)}; the patient may not drive until "
        "the next day. Reply YES to confirm you will drive them home."
    )
