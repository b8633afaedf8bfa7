"""Escalation occurrences (S2), pure: a repeat while an escalation is open joins it; once it is
resolved, the same condition again is the next occurrence, which pages from the first rung."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.conditions import Condition, Level, escalation_key
from domain.escalation import EscalationChanged, EscalationStatus, Severity


class RaiseAlert(BaseModel):
    """Command: open the occurrence's escalation, or join it if it is open."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    condition: Condition
    severity: Severity
    occurrence: int = Field(ge=1)
    detail: str
    reading_id: int | None = None

    def dedup_key(self, owner_workflow_id: str) -> str:
        return escalation_key(owner_workflow_id, self.condition, self.occurrence)


class Occurrence(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)

    number: int = 1
    severity: Severity
    open: bool = True
    triggers: int = 1
    """Triggers sent to this occurrence's escalation, the first included."""


class Occurrences(BaseModel):
    """The escalations an owner (a session, a course) raised, by condition."""

    model_config = ConfigDict(hide_input_in_errors=True)

    by_condition: dict[Condition, Occurrence] = {}

    def trigger(
        self, condition: Condition, severity: Severity, detail: str, reading_id: int | None = None
    ) -> RaiseAlert:
        current = self.by_condition.get(condition)
        if current is not None and current.open:
            current.triggers += 1
            # A worse repeat is paged as worse; a milder one joins at the severity it has.
            current.severity = max(current.severity, severity, key=_rank)
        else:
            number = 1 if current is None else current.number + 1
            current = self.by_condition[condition] = Occurrence(number=number, severity=severity)
        return RaiseAlert(
            condition=condition,
            severity=current.severity,
            occurrence=current.number,
            detail=detail,
            reading_id=reading_id,
        )

    def changed(self, change: EscalationChanged, detail: str) -> RaiseAlert | None:
        """Follow an escalation's status; the next occurrence if a repeat reached it too late."""
        current = self.by_condition.get(change.condition)
        if current is None or current.number != change.occurrence:
            return None  # an older occurrence's news
        if change.status is not EscalationStatus.RESOLVED:
            current.open = True
            return None
        lost = current.open and current.triggers - 1 > change.repeats_seen
        current.open = False
        return self.trigger(change.condition, current.severity, detail) if lost else None

    def open_at_least(self, severity: Severity) -> list[Condition]:
        return [
            condition
            for condition, occurrence in self.by_condition.items()
            if occurrence.open and _rank(occurrence.severity) >= _rank(severity)
        ]


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)


def severity_of(level: Level) -> Severity | None:
    """The escalation a finding at this level opens, if any."""
    return _SEVERITY.get(level)


_SEVERITY = {
    Level.ROUTINE: Severity.ROUTINE,
    Level.URGENT: Severity.URGENT,
    Level.CRITICAL: Severity.CRITICAL,
}
