"""The course's escalation decisions under random sequences (S2, S6, S7): PHQ-9 item 9 from any
source, overdue clinician decisions, and the escalations' news (acknowledged, resolved, with
repeats lost to a resolution), checked after every step against a simple oracle."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.conditions import Condition
from domain.escalation import EscalationChanged, EscalationStatus, Severity
from domain.occurrences import Occurrences, RaiseAlert
from domain.scales import Scale, Score

COURSE_CONDITIONS = {
    Condition.SELF_HARM_ITEM: Severity.URGENT,
    Condition.REVIEW_OVERDUE: Severity.ROUTINE,
    Condition.RELAPSE_DECISION_OVERDUE: Severity.ROUTINE,
}
SOURCES = ("assessment baseline", "score report", "session outcome")


@dataclass
class Expected:
    number: int = 0
    open: bool = False
    sent: int = 0
    raised: list[int] = field(default_factory=list)
    """Every occurrence number raised, in order (opened or joined)."""


class CourseEscalations(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.occurrences = Occurrences()
        self.expected = {condition: Expected() for condition in COURSE_CONDITIONS}

    def raise_and_check(self, condition: Condition, alert: RaiseAlert | None) -> None:
        e = self.expected[condition]
        if e.open:
            e.sent += 1
        else:
            e.number, e.open, e.sent = e.number + 1, True, 1
        e.raised.append(e.number)
        assert alert is not None
        assert (alert.condition, alert.occurrence) == (condition, e.number)
        assert alert.severity is COURSE_CONDITIONS[condition]

    @rule(source=st.sampled_from(SOURCES), item9=st.integers(0, 3), total=st.integers(3, 27))
    def a_phq9_arrives(self, source: str, item9: int, total: int) -> None:
        """S7: item 9 above 0 pages, whatever brought the score."""
        score = Score(scale=Scale.PHQ9, total=total, item9=min(item9, total))
        if not score.needs_same_day_follow_up:
            return
        condition = Condition.SELF_HARM_ITEM
        alert = self.occurrences.trigger(condition, Severity.URGENT, f"item 9 from {source}")
        self.raise_and_check(condition, alert)

    @rule(condition=st.sampled_from([Condition.REVIEW_OVERDUE, Condition.RELAPSE_DECISION_OVERDUE]))
    def a_decision_is_overdue(self, condition: Condition) -> None:
        """S6: every overdue decision escalates (a reminder while open joins it)."""
        alert = self.occurrences.trigger(condition, Severity.ROUTINE, "decision overdue")
        self.raise_and_check(condition, alert)

    @precondition(lambda self: any(e.open for e in self.expected.values()))
    @rule(data=st.data(), resolved=st.booleans())
    def news_of_an_escalation(self, data: st.DataObject, resolved: bool) -> None:
        condition = data.draw(st.sampled_from([c for c, e in self.expected.items() if e.open]))
        e = self.expected[condition]
        seen = data.draw(st.integers(0, e.sent - 1))
        again = self.occurrences.changed(
            EscalationChanged(
                escalation_id=f"escalation-{condition}-{e.number}",
                severity=COURSE_CONDITIONS[condition],
                condition=condition,
                occurrence=e.number,
                session=None,
                status=EscalationStatus.RESOLVED if resolved else EscalationStatus.ACKNOWLEDGED,
                repeats_seen=seen,
            ),
            "the same condition, again",
        )
        if not resolved:
            assert again is None
            return
        lost = seen < e.sent - 1
        e.open = False
        if lost:
            self.raise_and_check(condition, again)
        else:
            assert again is None

    @rule(data=st.data())
    def late_news_of_an_older_occurrence(self, data: st.DataObject) -> None:
        older = [c for c, e in self.expected.items() if e.number > 1]
        if not older:
            return
        condition = data.draw(st.sampled_from(older))
        again = self.occurrences.changed(
            EscalationChanged(
                escalation_id="escalation-old",
                severity=COURSE_CONDITIONS[condition],
                condition=condition,
                occurrence=self.expected[condition].number - 1,
                session=None,
                status=EscalationStatus.RESOLVED,
            ),
            "late",
        )
        assert again is None

    @invariant()
    def one_open_occurrence_per_condition_numbered_in_order(self) -> None:
        for condition, e in self.expected.items():
            current = self.occurrences.by_condition.get(condition)
            assert (current.number if current else 0) == e.number
            assert (current.open if current else False) is e.open
            assert e.raised == sorted(e.raised), "occurrences only move forward"

    @invariant()
    def open_urgent_escalations_are_the_ones_the_oracle_holds_open(self) -> None:
        urgent = {c for c, e in self.expected.items() if e.open and c is Condition.SELF_HARM_ITEM}
        assert set(self.occurrences.open_at_least(Severity.URGENT)) == urgent


CourseEscalations.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_course_escalates_every_occurrence_from_every_source = CourseEscalations.TestCase
