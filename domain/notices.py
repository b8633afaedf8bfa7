"""Notices the course sends to clinic staff. They carry no PHI: staff look the patient up."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class NoticeKind(StrEnum):
    RELAPSE_FLAGGED = "relapse_flagged"
    CHECK_IN_MISSED = "check_in_missed"
    READING_OVERDUE = "reading_overdue"
    SESSION_HELD = "session_held"


class ClinicNotice(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    effect_key: str
    """One notice per key, however often the activity is retried or the workflow replayed."""
    course_id: str
    kind: NoticeKind
    message: str
    recipient: str = "clinic-staff"
    session: int | None = None
