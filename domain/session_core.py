"""The dosing session's decisions, pure: an event changes the state and queues the commands to
carry out; a request is refused with the reason a gate gives. `DosingSession` feeds it events
and carries out its commands; the tests drive it directly with random sequences of events.

Every time here is the server's: when the workflow learned of the event (S5). A client's
timestamp (`taken_at`, `device_times`) is kept beside it and bounded, and moves no gate.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.clock import CourseClock
from domain.conditions import Condition, Level
from domain.escalation import EscalationChanged, Severity
from domain.notices import NoticeKind
from domain.occurrences import Occurrences, RaiseAlert, severity_of
from domain.protocol import DosingRules, SessionRules, VitalsLimits
from domain.records import SessionEvent
from domain.session import (
    Administration,
    Discharge,
    HoldDecision,
    Stage,
    TransportConfirmedVia,
)
from domain.vitals import Classification, SignsAtRest, VitalSigns, classify

CLOCK_SKEW = timedelta(minutes=1)
"""How far a device's clock may run ahead of the server's before its timestamp is refused."""
BEFORE_DOSING = (Stage.PRE_DOSE_VITALS, Stage.HELD, Stage.READY_TO_DOSE)
OVERDUE_STEPS = 2
"""An overdue reading's steps: the nurse is reminded, then it escalates; nothing follows."""


class Checkpoint:
    """The names a judged reading is recorded under (the REMS form reads them)."""

    PRE_DOSE = "pre_dose"
    POST_DOSE_40M = "post_dose_40m"
    MONITORING = "monitoring"
    BEFORE_CHECK_IN = "before_check_in"

    @staticmethod
    def of(kind: str, reading_id: int) -> str:
        return kind if kind == Checkpoint.POST_DOSE_40M else f"{kind}-{reading_id}"

    @staticmethod
    def kind(name: str) -> str:
        return name.split("-")[0]


class RoomTimes(BaseModel):
    """The in-room durations, in real time on this session's clock."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    monitoring: timedelta
    """At least this long from the dose to discharge (2 h)."""
    bp_due: timedelta
    """The blood pressure at about 40 minutes."""
    bp_early: timedelta
    """A due blood pressure may be taken this much early."""
    bp_recheck: timedelta
    reading_due: timedelta
    """A due reading not in by then: the nurse is reminded; another period, and it escalates."""
    recent: timedelta
    """A pre-dose or discharge set older than this is taken again."""
    hold_decision_due: timedelta
    """A held session undecided this long escalates."""
    between_devices: timedelta
    """At least this between one device and the next (5 minutes)."""

    @classmethod
    def of(
        cls, rules: SessionRules, dosing: DosingRules, clock: CourseClock | None = None
    ) -> RoomTimes:
        """The protocol's in-room minutes as real time on the course's clock (None: scale 1)."""

        def minutes(protocol_minutes: int) -> timedelta:
            duration = timedelta(minutes=protocol_minutes)
            return duration if clock is None else clock.response_duration(duration)

        recent = timedelta(minutes=rules.vitals_recent_minutes)

        return cls(
            monitoring=minutes(rules.min_monitoring_minutes),
            bp_due=minutes(rules.bp_check_after_minutes),
            bp_early=minutes(rules.bp_early_minutes),
            bp_recheck=minutes(rules.bp_recheck_every_minutes),
            reading_due=minutes(rules.reading_due_within_minutes),
            recent=recent if clock is None else clock.recency_window(recent),
            hold_decision_due=minutes(rules.hold_decision_due_minutes),
            between_devices=minutes(dosing.minutes_between_devices),
        )


# --- Commands: what the workflow carries out, in order ----------------------------------------


class Notify(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    command: Literal["notify"] = "notify"
    kind: NoticeKind
    recipient: str
    message: str
    key: str
    """Unique within the session: one notice per key."""


class RecordJudgement(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    command: Literal["record_judgement"] = "record_judgement"
    reading_id: int
    checkpoint: str
    classification: Classification


class RecordEvent(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    command: Literal["record_event"] = "record_event"
    event: SessionEvent
    at: AwareDatetime
    detail: str | None = None


class RequestRide(BaseModel):
    """Ask the driver named last to confirm the ride home (once per driver)."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    command: Literal["request_ride"] = "request_ride"


class Escalate(RaiseAlert):
    command: Literal["escalate"] = "escalate"


Command = Annotated[
    Notify | RecordJudgement | RecordEvent | RequestRide | Escalate,
    Field(discriminator="command"),
]


# --- State ------------------------------------------------------------------------------------


class JudgedReading(BaseModel):
    """A reading as the session judged it, once, when it arrived."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    reading_id: int
    signs: VitalSigns
    received_at: AwareDatetime
    level: Level
    conditions: tuple[Condition, ...] = ()
    checkpoint: str
    counts: bool = True
    """False for a reading taken before check-in or with a timestamp ahead of the server: it is
    judged and escalates like any other, but satisfies no gate."""

    @property
    def bp_acceptable(self) -> bool:
        return not any(c.is_blood_pressure for c in self.conditions)


class SessionState(BaseModel):
    """All state of one dosing session (the `details` query's answer)."""

    model_config = ConfigDict(hide_input_in_errors=True)

    stage: Stage = Stage.SCHEDULED
    scheduled_at: AwareDatetime
    transport_confirmed_via: TransportConfirmedVia | None = None
    driver_revision: int = 0
    ride_requested: bool = False
    """The driver's request has gone out (48 h before): a driver named later is asked at once."""
    checked_in_by: str | None = None
    checked_in_at: AwareDatetime | None = None
    check_ins: int = 0
    readings: list[JudgedReading] = []
    held_since: AwareDatetime | None = None
    hold_decision: HoldDecision | None = None
    hold_decided_at: AwareDatetime | None = None
    administration: Administration | None = None
    dosed_at: AwareDatetime | None = None
    """When the session learned of the dose: the 40-minute BP and the 2-hour floor count
    from it."""
    bp_due_at: AwareDatetime | None = None
    """The next blood pressure due after the dose (40 minutes, then rechecks until safe)."""
    bp_40m_reading: int | None = None
    end_of_monitoring_checked: bool = False
    discharge: Discharge | None = None
    escalations: Occurrences = Occurrences()
    not_dosed_reason: str | None = None
    commands: list[Command] = []
    """Queued for the workflow to carry out, oldest first."""


class SessionCore:
    """The rules over one session's state; `limits` and `times` come from its pinned protocol."""

    def __init__(self, state: SessionState, limits: VitalsLimits, times: RoomTimes) -> None:
        self.state = state
        self.limits = limits
        self.times = times

    # --- Events -------------------------------------------------------------------------------

    def check_in(self, by: str, at: datetime) -> None:
        s = self.state
        s.checked_in_by, s.checked_in_at = by, at
        s.check_ins += 1
        s.held_since = s.hold_decision = s.hold_decided_at = None
        s.stage = Stage.PRE_DOSE_VITALS

    def transport_confirmed(self, via: TransportConfirmedVia) -> None:
        self.state.transport_confirmed_via = via

    def driver_named(self, revision: int) -> None:
        """Another driver: the confirmation belonged to the ride before, and the new driver is
        asked at once if the request time has passed."""
        s = self.state
        if revision <= s.driver_revision:
            return  # the same driver named again, or news already heard
        s.driver_revision = revision
        s.transport_confirmed_via = None
        if s.ride_requested:
            self._emit(RequestRide())

    def ride_requested(self) -> None:
        self.state.ride_requested = True

    def transport_unconfirmed(self, hours_before: int) -> None:
        self._raise(
            Condition.TRANSPORT_UNCONFIRMED,
            Severity.ROUTINE,
            f"ride home not confirmed {hours_before} h before",
        )

    def reading_arrived(self, reading_id: int, signs: VitalSigns, at: datetime) -> None:
        """Judge the reading (S1): once, by its id, in whatever stage the session is."""
        s = self.state
        if any(r.reading_id == reading_id for r in s.readings):
            return
        classification = classify(signs, [r.signs for r in s.readings], self.limits)
        counts = s.checked_in_at is not None and (
            s.checked_in_at - CLOCK_SKEW <= signs.taken_at <= at + CLOCK_SKEW
        )
        judged = JudgedReading(
            reading_id=reading_id,
            signs=signs,
            received_at=at,
            level=classification.level,
            conditions=tuple(f.condition for f in classification.findings),
            checkpoint=Checkpoint.of(self._checkpoint_kind(signs, at, counts), reading_id),
            counts=counts,
        )
        s.readings.append(judged)
        if judged.checkpoint == Checkpoint.POST_DOSE_40M:
            s.bp_40m_reading = reading_id
        # Page first: the alerts go out before the judgement is recorded.
        for finding in classification.findings:
            severity = severity_of(finding.level)
            if severity is not None:
                self._raise(finding.condition, severity, finding.detail, reading_id)
        self._emit(
            RecordJudgement(
                reading_id=reading_id, checkpoint=judged.checkpoint, classification=classification
            )
        )
        if s.stage in BEFORE_DOSING:
            self._reassess_before_dosing()
        elif s.stage is Stage.MONITORING and counts and signs.has_bp:
            self._bp_answered(judged, at)

    def hold_decided(self, decision: HoldDecision, at: datetime) -> None:
        s = self.state
        s.hold_decision, s.hold_decided_at = decision, at
        if decision.proceed:
            s.held_since = None
            self._reassess_before_dosing()
        elif decision.reschedule_to is not None:
            # The decision stays on show until the patient checks in at the new time.
            s.stage = Stage.SCHEDULED
            s.scheduled_at = decision.reschedule_to
            s.checked_in_at = s.held_since = None  # who checked in stays on the record
        else:
            self.not_dosed(f"delayed by {decision.clinician}: {decision.note}")

    def hold_overdue(self) -> None:
        self._raise(
            Condition.HOLD_UNDECIDED,
            Severity.ROUTINE,
            "held for a clinician's decision, still undecided",
        )

    def dosed(self, administration: Administration, at: datetime) -> None:
        """The dose is given: monitoring starts. Devices used closer together than the
        protocol allows are recorded as used (refusing the record of a dose already given
        would leave the patient unmonitored) and raise a routine alert for the prescriber."""
        s = self.state
        s.administration, s.dosed_at = administration, at
        s.bp_due_at = at + self.times.bp_due
        s.stage = Stage.MONITORING
        times = administration.device_times
        shortest = min(
            (later - earlier for earlier, later in itertools.pairwise(times)), default=None
        )
        if shortest is not None and shortest < self.times.between_devices:
            self._raise(
                Condition.DEVICES_TOO_CLOSE,
                Severity.ROUTINE,
                f"devices used {shortest} (h:mm:ss) apart, under the protocol's "
                f"{self.times.between_devices}: the prescriber reviews the dose",
            )

    def bp_overdue(self, step: int) -> None:
        """A due blood pressure is late: first the nurse is reminded, then it escalates."""
        self._overdue(Condition.BP_READING_OVERDUE, "blood pressure", step)

    def pre_dose_overdue(self, step: int) -> None:
        self._overdue(Condition.PRE_DOSE_READING_OVERDUE, "pre-dose vitals", step)

    def monitoring_ended(self) -> None:
        """At the end of the 2 hours: a blood pressure not back to a safe level is urgent."""
        s = self.state
        s.end_of_monitoring_checked = True
        if not self._after_dose_bp_acceptable():
            self._raise(
                Condition.BP_NOT_SAFE_AT_END,
                Severity.URGENT,
                "BP not back to a safe level at the end of monitoring",
            )

    def escalation_changed(self, change: EscalationChanged) -> None:
        again = self.state.escalations.changed(change, "the same condition, again")
        if again is not None:
            self._emit(Escalate(**again.model_dump()))

    def discharged(self, discharge: Discharge) -> None:
        self.state.discharge = discharge
        self.state.stage = Stage.DISCHARGED

    def not_dosed(self, reason: str) -> None:
        self.state.stage = Stage.NOT_DOSED
        self.state.not_dosed_reason = reason

    # --- Gates (S3, S4) -----------------------------------------------------------------------

    def dose_refusal(self, administration: Administration, now: datetime) -> str | None:
        s = self.state
        if s.stage is not Stage.READY_TO_DOSE:
            return f"the session is {s.stage.value}, not {Stage.READY_TO_DOSE.value}"
        if s.transport_confirmed_via is None:
            return "no dose without a confirmed ride home"
        assert s.checked_in_at is not None
        times = administration.device_times
        if times[0] < s.checked_in_at - CLOCK_SKEW or times[-1] > now + CLOCK_SKEW:
            return "device_times must be after check-in and not in the future"
        missing = self._pre_dose_missing(now)
        if missing:
            return f"pre-dose vitals are not complete and recent: take {missing}"
        return None

    def discharge_refusal(self, now: datetime) -> str | None:
        s = self.state
        if s.stage is not Stage.MONITORING or s.dosed_at is None:
            return f"the session is {s.stage.value}, not {Stage.MONITORING.value}"
        minutes = self.times.monitoring
        if now < s.dosed_at + minutes:
            return "discharge only after the full monitoring period since the dose"
        if s.bp_40m_reading is None:
            return "the 40-minute blood pressure is not recorded"
        open_now = s.escalations.open_at_least(Severity.URGENT)
        if open_now:
            return f"an escalation of this session is open: {', '.join(open_now)}"
        vitals = self._latest_signs(since=max(s.dosed_at, now - self.times.recent))
        why = vitals.refusal(self.limits)
        if why is not None:
            return f"vitals not acceptable for discharge: {why}"
        if s.transport_confirmed_via is None:
            return "discharge only into a confirmed ride home"
        return None

    # --- What the workflow waits for ----------------------------------------------------------

    def bp_overdue_at(self, step: int) -> datetime | None:
        due = self.state.bp_due_at
        return None if due is None else due + self.times.reading_due * (step + 1)

    def monitoring_ends_at(self) -> datetime | None:
        s = self.state
        if s.dosed_at is None or s.end_of_monitoring_checked:
            return None
        return s.dosed_at + self.times.monitoring

    def take_commands(self) -> list[Command]:
        taken, self.state.commands = self.state.commands, []
        return taken

    # --- Rules --------------------------------------------------------------------------------

    def _checkpoint_kind(self, signs: VitalSigns, at: datetime, counts: bool) -> str:
        s = self.state
        if s.stage in BEFORE_DOSING:
            return Checkpoint.PRE_DOSE if counts else Checkpoint.BEFORE_CHECK_IN
        if s.stage is Stage.SCHEDULED:
            return Checkpoint.BEFORE_CHECK_IN
        due = s.dosed_at is not None and at >= s.dosed_at + self.times.bp_due - self.times.bp_early
        if due and counts and signs.has_bp and s.bp_40m_reading is None:
            return Checkpoint.POST_DOSE_40M
        return Checkpoint.MONITORING

    def _since_check_in(self) -> list[JudgedReading]:
        at = self.state.checked_in_at
        return [r for r in self.state.readings if r.counts and at and r.received_at >= at]

    def _reassess_before_dosing(self) -> None:
        """Not dosed at any critical reading since check-in; held at one above 140/90 that no
        proceed decision answered; ready once the pre-dose set is complete (S3)."""
        s = self.state
        readings = self._since_check_in()
        critical = [r for r in readings if r.level is Level.CRITICAL]
        if critical:
            conditions = sorted({c for r in critical for c in r.conditions})
            self.not_dosed(f"critical pre-dose vitals: {', '.join(conditions)}")
            return
        decided = s.hold_decided_at if s.hold_decision and s.hold_decision.proceed else None
        unanswered = [
            r
            for r in readings
            if r.level is Level.HOLD and (decided is None or r.received_at > decided)
        ]
        if unanswered:
            if s.stage is not Stage.HELD:
                self._hold(unanswered[-1])
            return
        complete = not self._pre_dose_missing(now=None)
        s.stage = Stage.READY_TO_DOSE if complete else Stage.PRE_DOSE_VITALS

    def _hold(self, reading: JudgedReading) -> None:
        s = self.state
        s.stage, s.held_since = Stage.HELD, reading.received_at
        s.hold_decision = s.hold_decided_at = None
        bp = f"{reading.signs.systolic}/{reading.signs.diastolic}"
        self._emit(RecordEvent(event=SessionEvent.HELD, at=reading.received_at, detail=f"BP {bp}"))
        self._emit(
            Notify(
                kind=NoticeKind.SESSION_HELD,
                recipient="prescriber",
                message=f"held at BP {bp}: decide to proceed or delay",
                key=f"held/{reading.reading_id}",
            )
        )

    def _pre_dose_missing(self, now: datetime | None) -> str:
        """The signs of the pre-dose set (BP, heart rate, SpO2) missing, or not recent by `now`."""
        recent_since = None if now is None else now - self.times.recent
        taken = SignsAtRest.latest(
            r.signs
            for r in self._since_check_in()
            if recent_since is None or r.received_at >= recent_since
        )
        return ", ".join(taken.missing())

    def _bp_answered(self, reading: JudgedReading, at: datetime) -> None:
        s = self.state
        if s.bp_due_at is None or at < s.bp_due_at - self.times.bp_early:
            return
        s.bp_due_at = None if reading.bp_acceptable else at + self.times.bp_recheck

    def _after_dose_bp_acceptable(self) -> bool:
        dosed = self.state.dosed_at
        with_bp = [
            r
            for r in self.state.readings
            if r.counts and r.signs.has_bp and dosed and r.received_at >= dosed
        ]
        return bool(with_bp) and with_bp[-1].bp_acceptable

    def _latest_signs(self, since: datetime) -> SignsAtRest:
        return SignsAtRest.latest(
            r.signs for r in self.state.readings if r.counts and r.received_at >= since
        )

    def _overdue(self, condition: Condition, what: str, step: int) -> None:
        """Step `step` of `OVERDUE_STEPS`."""
        if step == 0:
            self._emit(
                Notify(
                    kind=NoticeKind.READING_OVERDUE,
                    recipient="nurse",
                    message=f"{what} reading is due",
                    key=f"reading-overdue/{condition}/{self.state.check_ins}",
                )
            )
        elif step == 1:
            self._raise(condition, Severity.ROUTINE, f"{what} reading still missing")

    def _raise(
        self, condition: Condition, severity: Severity, detail: str, reading_id: int | None = None
    ) -> None:
        alert = self.state.escalations.trigger(condition, severity, detail, reading_id)
        self._emit(Escalate(**alert.model_dump()))

    def _emit(self, command: Command) -> None:
        self.state.commands.append(command)
