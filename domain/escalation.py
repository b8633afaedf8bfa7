"""Escalations: who is paged, in what order, and how people answer.

A policy works like a pager's escalation policy: ordered levels (on-call nurse, then on-call
psychiatrist, then medical director), each with a delay before an unacknowledged page moves up,
and a number of times the whole ladder repeats. Paging runs on real time, whatever a course's
clock: a safety page is never compressed or stretched.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.conditions import Condition

Actor = Annotated[str, Field(min_length=1, max_length=120)]

ESCALATION_CHANGED = "escalation_changed"
"""The signal an escalation sends its owners (the course, and the session or REMS filing that
raised it); each owner's handler is registered under this name."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class Severity(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    CRITICAL = "critical"


class OnCallRole(StrEnum):
    NURSE = "on_call_nurse"
    PSYCHIATRIST = "on_call_psychiatrist"
    MEDICAL_DIRECTOR = "medical_director"


class Rung(Frozen):
    role: OnCallRole
    minutes_before_next: int = Field(ge=1, le=24 * 60)
    """How long an unacknowledged page to this role waits before the next rung is paged."""


class EscalationPolicy(Frozen):
    rungs: tuple[Rung, ...] = Field(min_length=1)
    repeats: int = Field(default=0, ge=0, le=10)
    """How many more times the whole ladder runs when nobody acknowledges."""


def _ladder(*minutes: int) -> tuple[Rung, ...]:
    roles = (OnCallRole.NURSE, OnCallRole.PSYCHIATRIST, OnCallRole.MEDICAL_DIRECTOR)
    return tuple(Rung(role=r, minutes_before_next=m) for r, m in zip(roles, minutes, strict=False))


class EscalationPolicies(Frozen):
    """Clinic policy per severity (configurable with the protocol's clinic overrides)."""

    critical: EscalationPolicy = EscalationPolicy(rungs=_ladder(5, 5, 10), repeats=2)
    urgent: EscalationPolicy = EscalationPolicy(rungs=_ladder(15, 15, 30), repeats=1)
    routine: EscalationPolicy = EscalationPolicy(rungs=_ladder(60), repeats=0)

    def for_severity(self, severity: Severity) -> EscalationPolicy:
        policy: EscalationPolicy = getattr(self, severity.value)
        return policy


class EscalationStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Trigger(Frozen):
    """What raised the escalation; a repeat with the same dedup key joins it."""

    dedup_key: str = Field(pattern=r"^[a-z0-9][a-z0-9/_-]{0,200}$")
    course_id: str
    clinic_id: str
    session: int | None = None
    phase: str | None = None
    severity: Severity
    condition: Condition
    occurrence: int = Field(default=1, ge=1)
    owner_workflow_id: str | None = None
    """The workflow that counts this condition's occurrences (a session, a REMS filing); it
    hears of every change of status, as the course does."""
    summary: str = Field(max_length=300)
    """Shown to on-call staff and sent to pagers: never PHI."""
    reading_id: int | None = None
    raised_at: AwareDatetime


class EscalationInput(Frozen):
    trigger: Trigger
    policy: EscalationPolicy


def escalation_workflow_id(dedup_key: str) -> str:
    return f"escalation-{dedup_key.replace('/', '-')}"


# --- Messages from people ---------------------------------------------------------------------


class AckChannel(StrEnum):
    CONSOLE = "console"
    CLI = "cli"
    PAGER = "pager"


class Acknowledge(Frozen):
    by: Actor
    via: AckChannel


class PageAcknowledge(Frozen):
    """Update `acknowledge_page`: someone acknowledged one page on the pager (the webhook).

    It names the page it answers, so an acknowledgement of an older page (a redelivery, a
    re-acknowledged re-trigger, an answer to the page before a reassignment) acknowledges
    nothing: only the escalation's latest page may be acknowledged this way (S2).
    """

    by: Actor
    """The staff id the pager user maps to (the on-call schedule's `pager_user_id`)."""
    escalation_id: str = Field(min_length=1, max_length=300)
    """The escalation (one occurrence) whose page this answers."""
    page: int = Field(ge=1)
    """The page's attempt, from its dedup key `<escalation_id>/page-<attempt>`."""


class Resolve(Frozen):
    by: Actor
    note: str = Field(min_length=3, max_length=2000)
    """A resolution always says what was done."""


class Reassign(Frozen):
    by: Actor
    to_role: OnCallRole | None = None
    to_staff: str | None = Field(default=None, min_length=1, max_length=120)
    """A staff id from the on-call schedule (else the role's current on-call person)."""

    @model_validator(mode="after")
    def _someone(self) -> Self:
        if self.to_role is None and self.to_staff is None:
            raise ValueError("reassign to a role or to a staff member")
        return self


class Retrigger(Frozen):
    """Signal: the same condition fired again while the escalation is open."""

    reading_id: int | None = None
    at: AwareDatetime


# --- Activities --------------------------------------------------------------------------------


class PageRequest(Frozen):
    escalation_id: str
    trigger: Trigger
    role: OnCallRole
    staff_id: str | None = None
    """Page this person (after a reassign) rather than the role's on-call person."""
    attempt: int
    """Counts pages within the escalation: part of the effect key, so a retry pages once."""


class PageChannel(StrEnum):
    PAGER = "pager"
    SMS = "sms"
    OUTBOX = "outbox"


class PageResult(Frozen):
    staff_id: str | None
    """None when nobody is on call for the role: the ladder moves on at once."""
    channel: PageChannel | None = None
    provider_id: str | None = None


class PagerAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class PagerUpdate(Frozen):
    """Tell the pager service that the escalation was acknowledged or resolved elsewhere."""

    escalation_id: str
    action: PagerAction


class EscalationRecord(Frozen):
    """The escalation's row (what the console lists) and an audit entry for the step."""

    escalation_id: str
    trigger: Trigger
    status: EscalationStatus
    step: str
    """What happened: raised, paged, retriggered, acknowledged, reassigned, resolved."""
    actor: str
    """Who did it: a staff member, or "system" for the workflow's own steps."""
    at: AwareDatetime
    detail: str | None = None
    assigned_to: str | None = None


class EscalationChanged(Frozen):
    """Signal to the escalation's owner (its course, and its session if it has one): the
    escalation of one occurrence opened, was acknowledged or resolved."""

    escalation_id: str
    severity: Severity
    condition: Condition
    occurrence: int = Field(ge=1)
    session: int | None
    status: EscalationStatus
    repeats_seen: int = Field(default=0, ge=0)
    """Repeats counted when it changed: a repeat sent after its resolution was lost to it, and
    opens the next occurrence."""


# --- State -----------------------------------------------------------------------------------


class Page(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    attempt: int
    role: OnCallRole
    staff_id: str | None
    channel: PageChannel | None
    at: datetime


class EscalationState(BaseModel):
    """All state of one escalation (the `details` query's answer)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    status: EscalationStatus = EscalationStatus.OPEN
    pages: list[Page] = []
    triggers: int = 1
    acknowledged: Acknowledge | None = None
    acknowledged_at: datetime | None = None
    resolved: Resolve | None = None
    resolved_at: datetime | None = None
    reassigned: Reassign | None = None
