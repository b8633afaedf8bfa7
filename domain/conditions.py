"""What can go wrong, named once: the level of a finding and the conditions that escalate."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Level(IntEnum):
    """Ordered, so the worst finding of a reading is its level."""

    NORMAL = 0
    HOLD = 1
    """Pre-dose BP above 140/90: a clinician decides to proceed or delay."""
    ROUTINE = 2
    URGENT = 3
    CRITICAL = 4


class Condition(StrEnum):
    """A stable name for each condition; with its occurrence it makes an escalation's key."""

    # In a reading (domain.vitals).
    BP_ELEVATED = "bp_elevated"
    BP_SEVERE = "bp_severe"
    BP_CRITICAL = "bp_critical"
    SPO2_LOW = "spo2_low"
    SEDATION = "sedation"
    HYPERTENSIVE_CRISIS = "hypertensive_crisis"
    HEART_RATE_SUSTAINED = "heart_rate_sustained"
    # In the session (domain.session_core).
    TRANSPORT_UNCONFIRMED = "transport_unconfirmed"
    PRE_DOSE_READING_OVERDUE = "reading_overdue_pre_dose"
    BP_READING_OVERDUE = "reading_overdue_blood_pressure"
    HOLD_UNDECIDED = "hold_undecided"
    DEVICES_TOO_CLOSE = "devices_too_close"
    BP_NOT_SAFE_AT_END = "bp_not_safe_at_end_of_monitoring"
    REMS_FORM_DUE = "rems_form_due"
    REMS_FORM_OVERDUE = "rems_form_overdue"
    REMS_FORM_REFUSED = "rems_form_refused"
    # In the course (domain.course).
    SELF_HARM_ITEM = "self_harm_item"
    REVIEW_OVERDUE = "review_overdue"
    RELAPSE_DECISION_OVERDUE = "relapse_decision_overdue"

    @property
    def is_blood_pressure(self) -> bool:
        return self in (Condition.BP_ELEVATED, Condition.BP_SEVERE, Condition.BP_CRITICAL)


def escalation_key(owner_workflow_id: str, condition: Condition, occurrence: int) -> str:
    """One escalation per occurrence of a condition: a repeat while it is open joins it, and
    the same condition after its resolution is the next occurrence, with keys of its own."""
    return f"{owner_workflow_id}/{condition}/{occurrence}"
