"""`DosingSession`: one session of a course, from the first reminder to the REMS form.

Before the session: reminders, the ride home, an alert if the ride is still unconfirmed. In the
room: check-in, pre-dose vitals (a hold for a clinician above 140/90, no dose at a critical
reading), administration (only with a confirmed ride), at least two hours of monitoring with the
40-minute blood pressure, discharge, then the REMS Patient Monitoring Form.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain.contract import course_workflow_id, session_workflow_id
    from domain.course import Reschedule
    from domain.dosing import devices_for
    from domain.escalation import Severity
    from domain.notices import ClinicNotice, NoticeKind
    from domain.records import (
        Alert,
        DoseRecord,
        ReminderRequest,
        RemsFormRequest,
        SessionEvent,
        SessionEventRecord,
        TransportRequest,
        VitalsCheck,
        VitalsCheckResult,
    )
    from domain.session import (
        Administration,
        Cancel,
        CheckIn,
        CheckpointResult,
        Discharge,
        HoldDecision,
        OutcomeReport,
        ReadingArrived,
        SessionInput,
        SessionOutcome,
        SessionState,
        SessionSummary,
        Stage,
        TransportConfirmation,
    )
    from domain.vitals import Level

from workflows.messages import require_argument, signal_argument
from workflows.waiting import wait_for

IN_ROOM_FLOW = "in-room-flow"
"""Sessions started before the in-room flow wait for a reported outcome, as they did."""
RESPONSE_CLOCK = "response-clock"
"""Sessions started before it compress in-room minutes as hard as calendar days."""
LEAVE_CANCELLED_ACTIVITIES = "leave-cancelled-activities"
"""Sessions started before it asked the server to cancel a reminder already in flight when the
patient checked in; one that had just completed made the task fail (ACTIVITY_UNKNOWN)."""
EARLIEST_ATTENDANCE_REPORT = timedelta(hours=1)
EARLIEST_CHECK_IN = timedelta(hours=2)
EARLY_READING_MINUTES = 5
"""A due blood pressure may be taken this much early."""
RECORD_TIMEOUT = timedelta(seconds=10)
"""A clinical record or a reading's judgement takes milliseconds; one lost with a crashed worker
(eagerly started there) is retried elsewhere after this, so it bounds the recovery."""
SEND_TIMEOUT = timedelta(minutes=2)
SEVERITY = {Level.URGENT: Severity.URGENT, Level.CRITICAL: Severity.CRITICAL}
BEFORE_DOSING = (Stage.SCHEDULED, Stage.CHECKED_IN, Stage.PRE_DOSE_VITALS, Stage.HELD)


@workflow.defn(name="DosingSession")
class DosingSession:
    @workflow.init
    def __init__(self, session: SessionInput) -> None:
        self._input = session
        self._rules = session.rules
        self._summary = SessionSummary(
            number=session.number,
            phase=session.phase,
            scheduled_at=session.scheduled_at,
            workflow_id=session_workflow_id(session.course_id, session.number),
        )
        self.state = SessionState(scheduled_at=session.scheduled_at)
        self._in_room_flow = workflow.patched(IN_ROOM_FLOW)
        self._response_clock = workflow.patched(RESPONSE_CLOCK)
        # Every effect is idempotent, so one in flight may as well finish.
        self._on_cancel = (
            ActivityCancellationType.ABANDON
            if workflow.patched(LEAVE_CANCELLED_ACTIVITIES)
            else ActivityCancellationType.TRY_CANCEL
        )
        self._rescheduled = False
        self._checked_in_at: datetime | None = None

    @workflow.run
    async def run(self, session: SessionInput) -> SessionSummary:
        if self._in_room_flow:
            await self._run_in_room()
        else:
            await self._await_reported_outcome()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.logger.info(
            "session concluded",
            extra={
                "course_id": session.course_id,
                "session": session.number,
                "outcome": self._summary.outcome,
            },
        )
        return self._summary

    # --- The session, step by step -----------------------------------------------------------

    async def _run_in_room(self) -> None:
        while self._summary.outcome is None:
            await self._record(SessionEvent.SCHEDULED, at=self.state.scheduled_at)
            self._rescheduled = False
            preparing = asyncio.create_task(self._prepare())
            try:
                arrived = await self._until_check_in()
            finally:
                # Reminders still to come are moot once the patient is in (or the slot is gone).
                preparing.cancel()
                with contextlib.suppress(asyncio.CancelledError, ActivityError):
                    await preparing
            if arrived:
                await self._in_room()
        if self.state.stage is Stage.NOT_DOSED:
            await self._record(SessionEvent.NOT_DOSED, detail=self.state.not_dosed_reason)
        elif self._summary.outcome is SessionOutcome.MISSED:
            await self._record(SessionEvent.MISSED, detail=self._summary.reason)
        elif self._summary.outcome is SessionOutcome.CANCELLED:
            await self._record(SessionEvent.CANCELLED, detail=self._summary.reason)

    async def _prepare(self) -> None:
        """Reminders and the ride home, before the session."""
        scheduled = self.state.scheduled_at
        hours_before = sorted(self._rules.reminder_hours_before, reverse=True)
        # Scheduled at short notice, only the reminders still ahead (and always the last) go.
        reminders = [
            hours
            for hours in hours_before
            if scheduled - timedelta(hours=hours) >= self._protocol_now()
            or hours == hours_before[-1]
        ]
        await self._sleep_until(scheduled - timedelta(hours=max(hours_before, default=0)))
        await self._activity(
            "request_transport_confirmation",
            TransportRequest(
                course_id=self._input.course_id,
                session=self._input.number,
                scheduled_at=scheduled,
                clinic_timezone=self._input.clinic_timezone,
            ),
            SEND_TIMEOUT,
        )
        for hours in reminders:
            await self._sleep_until(scheduled - timedelta(hours=hours))
            await self._activity(
                "send_reminder",
                ReminderRequest(
                    course_id=self._input.course_id,
                    session=self._input.number,
                    scheduled_at=scheduled,
                    hours_before=hours,
                    clinic_timezone=self._input.clinic_timezone,
                ),
                SEND_TIMEOUT,
            )
        lead = timedelta(hours=self._rules.transport_alert_hours_before)
        await self._give_staff_until(scheduled - lead, at_least=lead)
        if self.state.transport_confirmed_via is None:
            await self._alert(
                Severity.ROUTINE,
                "transport_unconfirmed",
                f"Session {self._input.number}: ride home not confirmed "
                f"{self._rules.transport_alert_hours_before} h before",
            )

    async def _until_check_in(self) -> bool:
        """True once the patient is checked in; the session is missed if that never happens."""
        settled = await wait_for(
            lambda: (
                self.state.stage is not Stage.SCHEDULED
                or self._summary.outcome is not None
                or self._rescheduled
            ),
            within=self._until_grace_ends(),
        )
        if not settled:
            self._conclude(SessionOutcome.MISSED, reason="patient did not check in")
        return self.state.stage is Stage.CHECKED_IN and self._summary.outcome is None

    async def _in_room(self) -> None:
        await self._record(SessionEvent.CHECKED_IN, actor=self.state.checked_in_by)
        self.state.stage = Stage.PRE_DOSE_VITALS
        assert self._checked_in_at is not None
        # A session delayed and checked in again takes fresh pre-dose vitals.
        self.state.check_ins += 1
        name = "pre_dose" if self.state.check_ins == 1 else f"pre_dose-{self.state.check_ins}"
        pre_dose = await self._checkpoint(name, since=self._checked_in_at)
        if pre_dose is None:
            return
        if pre_dose.level is Level.CRITICAL:
            self._not_dosed(f"critical pre-dose vitals: {', '.join(pre_dose.conditions)}")
            return
        if pre_dose.level is not Level.NORMAL and not await self._clinician_proceeds():
            return
        self.state.stage = Stage.READY_TO_DOSE
        await wait_for(lambda: self.state.administration is not None or self._ended())
        administration = self.state.administration
        if administration is None:
            return
        await self._activity(
            "record_dose",
            DoseRecord(
                course_id=self._input.course_id,
                session=self._input.number,
                administration=administration,
            ),
        )
        self.state.stage = Stage.MONITORING
        await self._record(SessionEvent.DOSED, actor=administration.by)
        await self._monitor(administration)
        await self._discharge()

    async def _clinician_proceeds(self) -> bool:
        """Held above 140/90: the clinician weighs the risk and proceeds or delays."""
        self.state.stage = Stage.HELD
        await self._record(SessionEvent.HELD)
        await wait_for(lambda: self.state.hold_decision is not None or self._ended())
        decision = self.state.hold_decision
        if decision is None:
            return False
        if decision.proceed:
            return True
        if decision.reschedule_to is not None:
            self._move_to(decision.reschedule_to)
            self.state.stage = Stage.SCHEDULED
            self.state.hold_decision = None
            course = workflow.get_external_workflow_handle(
                course_workflow_id(self._input.course_id)
            )
            await course.signal("session_moved", self._summary)
        else:
            self._not_dosed(f"delayed by {decision.clinician}: {decision.note}")
        return False

    async def _monitor(self, administration: Administration) -> None:
        """At least two hours after the first device; blood pressure at 40 minutes, then
        rechecks until it is back at a safe level; every reading classified as it comes."""
        first_device = administration.first_device_at
        end = first_device + self._minutes(self._rules.min_monitoring_minutes)
        bp_due: datetime | None = first_device + self._minutes(self._rules.bp_check_after_minutes)
        end_checked = False
        overdue_step = 0
        while self.state.discharge is None and not self._ended():
            deadlines = [] if end_checked else [end]
            if bp_due is not None:
                deadlines.append(bp_due + self._reading_due() * (overdue_step + 1))
            await wait_for(
                lambda: (
                    self._unchecked_reading() is not None
                    or self.state.discharge is not None
                    or self._ended()
                ),
                within=min(deadlines) - workflow.now() if deadlines else None,
            )
            reading = self._unchecked_reading()
            if reading is not None:
                early = self._early_reading()
                answers_due = bp_due is not None and reading.taken_at >= bp_due - early
                name = (
                    "post_dose_40m"
                    if answers_due and not self._has_checkpoint("post_dose_40m")
                    else f"monitoring-{reading.reading_id}"
                )
                checked = await self._classify(name, reading.taken_at, reading.reading_id)
                if answers_due and checked.has_bp:
                    recheck = self._minutes(self._rules.bp_recheck_every_minutes)
                    bp_due = None if checked.bp_acceptable else workflow.now() + recheck
                    overdue_step = 0
            elif not end_checked and workflow.now() >= end:
                end_checked = True
                if not self.state.latest_bp_acceptable:
                    await self._alert(
                        Severity.URGENT,
                        "bp_not_safe_at_end_of_monitoring",
                        f"Session {self._input.number}: BP not back to a safe level at 2 h",
                    )
            elif bp_due is not None and self.state.discharge is None and not self._ended():
                await self._reading_overdue("blood pressure", overdue_step)
                overdue_step += 1

    async def _discharge(self) -> None:
        discharge = self.state.discharge
        administration = self.state.administration
        if discharge is None or administration is None:
            return
        self.state.stage = Stage.DISCHARGED
        await self._record(SessionEvent.DISCHARGED, actor=discharge.by, discharge=discharge)
        self._conclude(SessionOutcome.ATTENDED, dose_mg=administration.dose_mg)
        due = self.state.scheduled_at + timedelta(days=self._rules.rems_form_due_days)
        await self._activity(
            "submit_rems_form",
            RemsFormRequest(
                course_id=self._input.course_id, session=self._input.number, due_at=due
            ),
            SEND_TIMEOUT,
        )

    # --- Vitals --------------------------------------------------------------------------------

    async def _checkpoint(self, name: str, since: datetime) -> CheckpointResult | None:
        """Wait for a reading taken after `since`, reminding then escalating when it is late."""
        step = 0
        while not await wait_for(
            lambda: self._reading_since(since) or self._ended(), within=self._reading_due()
        ):
            await self._reading_overdue(name.replace("_", " "), step)
            step += 1
        if self._ended():
            return None
        return await self._classify(name, since)

    async def _classify(
        self, checkpoint: str, since: datetime, reading_id: int | None = None
    ) -> CheckpointResult:
        """Classify one reading (or the newest since `since`); readings that arrive meanwhile
        stay unchecked, for the next round."""
        known = len(self.state.readings)
        result: VitalsCheckResult = await workflow.execute_activity(
            "check_vitals",
            VitalsCheck(
                course_id=self._input.course_id,
                session=self._input.number,
                checkpoint=checkpoint,
                not_before=since,
                limits=self._rules.vitals,
                reading_id=reading_id,
            ),
            result_type=VitalsCheckResult,
            start_to_close_timeout=RECORD_TIMEOUT,
        )
        if reading_id is None:
            self.state.readings_checked = known  # the newest covers those before it
        else:
            self.state.readings_checked += 1
        classification = result.classification
        checked = CheckpointResult(
            checkpoint=checkpoint,
            reading_id=result.reading_id,
            level=classification.level if classification else Level.NORMAL,
            conditions=tuple(f.condition for f in classification.findings)
            if classification
            else (),
            has_bp=bool(result.reading and result.reading.has_bp),
            bp_acceptable=classification.bp_acceptable if classification else True,
        )
        self.state.checkpoints.append(checked)
        for finding in classification.findings if classification else ():
            if finding.level in SEVERITY:
                await self._alert(
                    SEVERITY[finding.level],
                    finding.condition,
                    f"Session {self._input.number}: {finding.detail}",
                    reading_id=result.reading_id,
                )
        return checked

    async def _reading_overdue(self, what: str, step: int) -> None:
        """First the nurse is reminded; if still nothing, it escalates."""
        if step == 0:
            await self._activity(
                "notify_clinic",
                ClinicNotice(
                    effect_key=f"{self._summary.workflow_id}/reading-overdue/{what}",
                    course_id=self._input.course_id,
                    kind=NoticeKind.READING_OVERDUE,
                    message=f"Session {self._input.number}: {what} reading is due",
                    recipient="nurse",
                    session=self._input.number,
                ),
            )
        elif step == 1:
            await self._alert(
                Severity.ROUTINE,
                f"reading_overdue_{what.replace(' ', '_')}",
                f"Session {self._input.number}: {what} reading still missing",
            )

    def _reading_since(self, since: datetime) -> bool:
        return any(r.taken_at >= since for r in self.state.readings)

    def _unchecked_reading(self) -> ReadingArrived | None:
        unchecked = self.state.readings[self.state.readings_checked :]
        return unchecked[0] if unchecked else None

    def _has_checkpoint(self, name: str) -> bool:
        return any(c.checkpoint == name for c in self.state.checkpoints)

    def _reading_due(self) -> timedelta:
        return self._minutes(self._rules.reading_due_within_minutes)

    def _minutes(self, protocol_minutes: int) -> timedelta:
        """An in-room duration as real time on this course's clock."""
        clock, minutes = self._input.clock, timedelta(minutes=protocol_minutes)
        if self._response_clock:
            return clock.response_duration(minutes)
        return clock.real_duration(minutes)

    def _early_reading(self) -> timedelta:
        if self._response_clock:
            return self._minutes(EARLY_READING_MINUTES)
        return timedelta(minutes=EARLY_READING_MINUTES)  # real minutes, as sessions before it

    def _until_grace_ends(self) -> timedelta:
        """Real time left to check in: the slot on the calendar, then the grace staff have."""
        clock, grace = self._input.clock, timedelta(hours=self._input.outcome_grace_hours)
        if self._response_clock:
            until_slot = clock.real_delay_until(self.state.scheduled_at, workflow.now())
            return until_slot + clock.response_duration(grace)
        return clock.real_delay_until(self.state.scheduled_at + grace, workflow.now())

    # --- Messages ------------------------------------------------------------------------------

    @workflow.query
    def summary(self) -> SessionSummary:
        return self._summary

    @workflow.query
    def details(self) -> SessionState:
        return self.state

    @workflow.update
    def check_in(self, request: CheckIn) -> SessionState:
        self.state.checked_in_by = request.by
        self.state.stage = Stage.CHECKED_IN
        self._checked_in_at = workflow.now()
        return self.state

    @check_in.validator
    def _check_check_in(self, request: CheckIn) -> None:
        require_argument(request, CheckIn)
        self._require_in_room_flow()
        self._require_stage(Stage.SCHEDULED)
        if self._protocol_now() < self.state.scheduled_at - EARLIEST_CHECK_IN:
            raise ValueError("too early to check in for this session")

    @workflow.update
    async def confirm_transport(self, confirmation: TransportConfirmation) -> SessionState:
        self.state.transport_confirmed_via = confirmation.via
        await self._record(
            SessionEvent.TRANSPORT_CONFIRMED, actor=confirmation.by, detail=confirmation.via.value
        )
        return self.state

    @confirm_transport.validator
    def _check_transport(self, confirmation: TransportConfirmation) -> None:
        require_argument(confirmation, TransportConfirmation)
        self._require_in_room_flow()
        self._require_open()
        if self.state.transport_confirmed_via is not None:
            raise ValueError("the ride home is already confirmed")

    @workflow.signal
    def reading_arrived(self, *args: object) -> None:
        """From the API, once the reading is stored in Postgres."""
        reading = signal_argument(ReadingArrived, args, "reading_arrived")
        if reading is None:
            return
        if all(r.reading_id != reading.reading_id for r in self.state.readings):
            self.state.readings.append(reading)

    @workflow.update
    def decide_hold(self, decision: HoldDecision) -> SessionState:
        self.state.hold_decision = decision
        return self.state

    @decide_hold.validator
    def _check_hold(self, decision: HoldDecision) -> None:
        require_argument(decision, HoldDecision)
        self._require_stage(Stage.HELD)
        if decision.reschedule_to is not None and decision.reschedule_to <= self._protocol_now():
            raise ValueError("the new time must be in the future")

    @workflow.update
    def record_administration(self, administration: Administration) -> SessionState:
        self.state.administration = administration
        return self.state

    @record_administration.validator
    def _check_administration(self, administration: Administration) -> None:
        require_argument(administration, Administration)
        self._require_stage(Stage.READY_TO_DOSE)
        if self.state.transport_confirmed_via is None:
            raise ValueError("no dose without a confirmed ride home")
        self._check_dose(administration.dose_mg, administration.devices)

    @workflow.update
    def discharge(self, discharge: Discharge) -> SessionState:
        self.state.discharge = discharge
        return self.state

    @discharge.validator
    def _check_discharge(self, discharge: Discharge) -> None:
        require_argument(discharge, Discharge)
        self._require_stage(Stage.MONITORING)
        administration = self.state.administration
        assert administration is not None
        minutes = self._rules.min_monitoring_minutes
        if workflow.now() < administration.first_device_at + self._minutes(minutes):
            raise ValueError(f"discharge only after at least {minutes} minutes of monitoring")
        if not self._has_checkpoint("post_dose_40m"):
            raise ValueError("the 40-minute blood pressure is not recorded")
        if not self.state.latest_bp_acceptable:
            raise ValueError("blood pressure is not back to a safe level")
        if any(c.level is Level.CRITICAL for c in self.state.checkpoints[-1:]):
            raise ValueError("the latest vitals are critical")
        if self.state.transport_confirmed_via is None:
            raise ValueError("discharge only into a confirmed ride home")

    @workflow.update
    def report_outcome(self, report: OutcomeReport) -> SessionSummary:
        self._conclude(
            report.outcome, dose_mg=report.dose_mg, score=report.score, reason=report.note
        )
        return self._summary

    @report_outcome.validator
    def _check_report(self, report: OutcomeReport) -> None:
        require_argument(report, OutcomeReport)
        self._require_open()
        if self._in_room_flow:
            if report.outcome is SessionOutcome.ATTENDED:
                raise ValueError("an attended session is recorded by check-in to discharge")
            if self.state.stage not in (*BEFORE_DOSING, Stage.READY_TO_DOSE):
                raise ValueError("the dose is given: the session ends with its discharge")
            return
        if report.outcome is not SessionOutcome.ATTENDED:
            return
        if self._protocol_now() < self._summary.scheduled_at - EARLIEST_ATTENDANCE_REPORT:
            raise ValueError("the session has not started yet")
        assert report.dose_mg is not None  # OutcomeReport guarantees it for an attended session
        self._check_dose(report.dose_mg, report.devices)

    @workflow.signal
    def cancel(self, *args: object) -> None:
        """From the course: pause, discontinue or the end of maintenance. A dosed patient stays
        in the room until discharge whatever the course does."""
        request = signal_argument(Cancel, args, "cancel")
        not_dosed = self.state.stage in (*BEFORE_DOSING, Stage.READY_TO_DOSE)
        if request is not None and self._summary.outcome is None and not_dosed:
            self._conclude(SessionOutcome.CANCELLED, reason=request.reason)

    @workflow.signal
    def reschedule(self, *args: object) -> None:
        """From the course, which validated the move."""
        request = signal_argument(Reschedule, args, "reschedule")
        if request is None or self._summary.outcome is not None:
            return
        if self.state.stage is Stage.SCHEDULED:
            self._move_to(request.new_time)

    # --- Mechanics -----------------------------------------------------------------------------

    async def _await_reported_outcome(self) -> None:
        """The foundation's session: wait for the clinic to report the outcome."""
        grace = timedelta(hours=self._input.outcome_grace_hours)
        while self._summary.outcome is None:
            self._rescheduled = False
            deadline = self._summary.scheduled_at + grace
            settled = await wait_for(
                lambda: self._summary.outcome is not None or self._rescheduled,
                within=self._input.clock.real_delay_until(deadline, workflow.now()),
            )
            if not settled:
                self._conclude(SessionOutcome.MISSED, reason="no outcome reported")

    def _check_dose(self, dose_mg: int, devices: int | None) -> None:
        if dose_mg not in self._input.allowed_doses_mg:
            raise ValueError(
                f"dose {dose_mg} mg not allowed now; allowed: {self._input.allowed_doses_mg}"
            )
        expected = devices_for(self._input.dosing, dose_mg)
        if devices != expected:
            raise ValueError(f"{dose_mg} mg is {expected} devices")

    def _move_to(self, protocol_time: datetime) -> None:
        self.state.scheduled_at = protocol_time
        self._summary = self._summary.model_copy(update={"scheduled_at": protocol_time})
        self._rescheduled = True

    def _conclude(self, outcome: SessionOutcome, **details: object) -> None:
        self._summary = self._summary.model_copy(update={"outcome": outcome, **details})

    def _not_dosed(self, reason: str) -> None:
        self.state.stage = Stage.NOT_DOSED
        self.state.not_dosed_reason = reason
        self._conclude(SessionOutcome.CANCELLED, reason=f"not dosed: {reason}")

    def _ended(self) -> bool:
        return self._summary.outcome is not None or self._rescheduled

    def _require_in_room_flow(self) -> None:
        if not self._in_room_flow:
            raise ValueError("this session predates the in-room flow: report its outcome")

    def _require_open(self) -> None:
        if self._summary.outcome is not None:
            raise ValueError(f"session already concluded: {self._summary.outcome.value}")

    def _require_stage(self, *stages: Stage) -> None:
        self._require_open()
        if self.state.stage not in stages:
            expected = " or ".join(s.value for s in stages)
            raise ValueError(f"the session is {self.state.stage.value}, not {expected}")

    def _protocol_now(self) -> datetime:
        return self._input.clock.to_protocol(workflow.now())

    async def _give_staff_until(self, protocol_time: datetime, *, at_least: timedelta) -> None:
        """Until a protocol time by which staff must have answered (`CourseClock.staff_window`:
        on a compressed clock a session booked at short notice still leaves them time)."""
        if not self._response_clock:
            await self._sleep_until(protocol_time)
            return
        window = self._input.clock.staff_window(protocol_time - self._protocol_now(), at_least)
        if window > timedelta(0):
            await workflow.sleep(window)

    async def _sleep_until(self, protocol_time: datetime) -> None:
        delay = self._input.clock.real_delay_until(protocol_time, workflow.now())
        if delay > timedelta(0):
            await workflow.sleep(delay)

    async def _alert(
        self, severity: Severity, condition: str, summary: str, reading_id: int | None = None
    ) -> None:
        key = f"{self._summary.workflow_id}/{condition}"
        if key in self.state.alerts:
            return  # a repeated trigger joins the open escalation
        self.state.alerts.append(key)
        await self._activity(
            "raise_alert",
            Alert(
                dedup_key=key,
                course_id=self._input.course_id,
                session=self._input.number,
                phase=self._input.phase,
                severity=severity,
                condition=condition,
                summary=summary,
                reading_id=reading_id,
                policy=self._input.escalation.for_severity(severity),
            ),
        )

    async def _record(
        self,
        event: SessionEvent,
        *,
        at: datetime | None = None,
        actor: str | None = None,
        detail: str | None = None,
        discharge: Discharge | None = None,
    ) -> None:
        await self._activity(
            "record_session_event",
            SessionEventRecord(
                course_id=self._input.course_id,
                session=self._input.number,
                event=event,
                at=at or workflow.now(),
                actor=actor,
                detail=detail,
                discharge=discharge,
            ),
        )

    async def _activity(
        self, name: str, argument: object, allowed: timedelta = RECORD_TIMEOUT
    ) -> None:
        await workflow.execute_activity(
            name, argument, start_to_close_timeout=allowed, cancellation_type=self._on_cancel
        )
