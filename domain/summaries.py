"""What the Temporal UI shows of each step: the summaries of timers, activities and child
workflows, so that a course's history reads like the clinic's day.

Summaries are user metadata, which the SDK encodes with the payload codec like any payload
(`tests/test_ui_summaries.py` checks that they leave the worker encrypted): a judged reading
may show its values ("BP 152/94"), but no text here ever carries a name, a contact detail or
a clinician's free-text note.
"""

from __future__ import annotations

from domain.conditions import Condition
from domain.escalation import OnCallRole, PagerAction, Severity
from domain.notices import NoticeKind
from domain.records import SessionEvent
from domain.session_core import Checkpoint
from domain.vitals import Classification

# --- TreatmentCourse ------------------------------------------------------------------------

REGISTER_PATIENT = "patient registered, clinic protocol pinned"


def session(number: int, phase: str) -> str:
    return f"Session {number} ({phase})"


def decision_due(awaiting: str, hours: int) -> str:
    return f"{awaiting.replace('_', ' ')} due within {hours} h"


def check_in_due(number: int, weeks: int) -> str:
    return f"follow-up check-in {number} (week {weeks})"


def check_in_window(number: int, days: int) -> str:
    return f"follow-up check-in {number}: PHQ-9 within {days} d"


def clinic_told(kind: NoticeKind) -> str:
    return f"clinic told: {kind.value.replace('_', ' ')}"


def alert_raised(severity: Severity, condition: Condition, occurrence: int, detail: str) -> str:
    """E.g. "alert raised: critical spo2_low #1 (SpO2 85%)"."""
    return f"alert raised: {severity} {condition} #{occurrence} ({detail})"


# --- DosingSession ------------------------------------------------------------------------------

RIDE_REQUESTED = "ride home requested (driver texted)"
CHECK_IN_WINDOW = "check-in window (the slot and its grace)"
PRE_DOSE_VITALS_DUE = "pre-dose vitals due"
HOLD_DECISION_DUE = "held: clinician decision due"
MONITORING = "monitoring: 2 h floor or BP due"
REMS_FILING_STARTED = "REMS form handed to its filing"


def first_contact(hours: int) -> str:
    return f"{hours} h before: ride request and reminder"


def reminder(hours: int) -> str:
    return f"{hours} h reminder"


def reminder_sent(hours: int) -> str:
    return f"{hours} h reminder sent"


def ride_check(hours: int) -> str:
    return f"ride home confirmed {hours} h before?"


def dose_recorded(dose_mg: int, devices: int) -> str:
    return f"dose recorded: {dose_mg} mg, {devices} devices"


def session_event(event: SessionEvent) -> str:
    return f"session {event.value.replace('_', ' ')}"


CHECKPOINTS = {
    Checkpoint.PRE_DOSE: "pre-dose vitals",
    Checkpoint.POST_DOSE_40M: "40-minute BP",
    Checkpoint.MONITORING: "monitoring vitals",
    Checkpoint.BEFORE_CHECK_IN: "vitals before check-in",
}


def reading_judged(checkpoint: str, classification: Classification) -> str:
    """E.g. "pre-dose vitals judged: hold BP 152/94"; the findings' values, never the patient."""
    verdict = classification.level.name.lower()
    values = "; ".join(finding.detail for finding in classification.findings)
    what = CHECKPOINTS.get(Checkpoint.kind(checkpoint), "vitals")
    return f"{what} judged: {verdict}" + (f" {values}" if values else "")


# --- Escalation -------------------------------------------------------------------------------

ROLES = {
    OnCallRole.NURSE: "nurse",
    OnCallRole.PSYCHIATRIST: "psychiatrist",
    OnCallRole.MEDICAL_DIRECTOR: "medical director",
}


def paged(role: OnCallRole, step: int, rungs: int, staff_id: str | None = None) -> str:
    """E.g. "paged nurse (rung 1)"; a reassignment names the staff member it pages."""
    rung, round_ = step % rungs + 1, step // rungs + 1
    where = f"rung {rung}" + (f", round {round_}" if round_ > 1 else "")
    whom = ROLES[role] if staff_id is None else f"{ROLES[role]} {staff_id}"
    return f"paged {whom} ({where})"


def rung_wait(role: OnCallRole, minutes: int) -> str:
    return f"{ROLES[role]} has {minutes} min to acknowledge"


def escalation_step(step: str, person: str | None) -> str:
    """E.g. "escalation acknowledged by nurse-kim"; the escalation's own steps name nobody."""
    return f"escalation {step.replace('_', ' ')}" + ("" if person is None else f" by {person}")


def pager_told(action: PagerAction) -> str:
    return f"pager service told: {action}"


# --- RemsFiling -------------------------------------------------------------------------------

REMS_SUBMIT = "REMS form submitted to the portal"


def rems_form_wait(day: int) -> str:
    return f"REMS form filed by day {day}?"
