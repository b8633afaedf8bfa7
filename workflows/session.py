"""`DosingSession`: one session of a course, from the first reminder to the REMS form.

Before the session: reminders, the ride home, an alert if the ride is still unconfirmed. In the
room: check-in, pre-dose vitals (a hold for a clinician above 140/90, no dose at a critical
reading), administration (only with a confirmed ride), at least two hours of monitoring with the
40-minute blood pressure, discharge, then the REMS Patient Monitoring Form.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from opentelemetry.context import Context

    from activities.dosing import SessionRecords
    from activities.notifications import ClinicNotifier
    from activities.reminders import Reminders
    from activities.rems_filings import RemsFilings
    from activities.transport import TransportRequests
    from activities.vitals import VitalsRecords
    from domain import summaries
    from domain.contract import course_workflow_id, session_workflow_id
    from domain.course import Reschedule
    from domain.dosing import devices_for
    from domain.escalation import ESCALATION_CHANGED, EscalationChanged
    from domain.notices import ClinicNotice
    from domain.records import (
        DoseRecord,
        ReadingJudgement,
        ReminderRequest,
        RemsFilingInput,
        SessionEvent,
        SessionEventRecord,
        TransportRequest,
    )
    from domain.session import (
        SESSION_MOVED,
        Administration,
        Cancel,
        CheckIn,
        Discharge,
        DriverNamed,
        HoldDecision,
        OutcomeReport,
        ReadingArrived,
        SessionInput,
        SessionOutcome,
        SessionSummary,
        Stage,
        TransportConfirmation,
    )
    from domain.session_core import (
        BEFORE_DOSING,
        OVERDUE_STEPS,
        Command,
        Escalate,
        Notify,
        RecordEvent,
        RecordJudgement,
        RequestRide,
        RoomTimes,
        SessionCore,
        SessionState,
    )

    # Passed through: the trace it carries is the tracing interceptor's, outside the sandbox.
    from workflows.traces import current_trace, in_trace

from workflows.alerting import AlertOwner, raise_alert
from workflows.messages import require_argument, signal_argument
from workflows.waiting import keep_details_current, wait_for

Argument = TypeVar("Argument")
EARLIEST_CHECK_IN = timedelta(hours=2)
RECORD_TIMEOUT = timedelta(seconds=10)
"""A clinical record takes milliseconds; one lost with a crashed worker (eagerly started
there) is retried elsewhere after this, so it bounds the recovery."""
SEND_TIMEOUT = timedelta(minutes=2)
QUIET_WHEN_IDLE = "quiet-when-idle"
"""Patch: once an overdue reading has been reminded and escalated, the session waits for the
reading with no timer; sessions before it woke every `reading_due` for nothing."""
LOCAL_JUDGEMENT = "local-judgement"
"""Patch: a reading's judgement is recorded by a local activity, in the workflow task that
judged it, instead of an activity queued behind the courses' routine work (a round trip
through the server and a second workflow task for every reading)."""
PREPARATIONS_CALLED_OFF = "preparations-called-off"
"""Patch: preparations stop at their next step once called off (the patient is in, the slot
moved or the session ended). Cancelling them alone is not enough: when a step's activity
completes in the same workflow task as the check-in, the SDK runs the check-in first and the
activity's result then swallows the cancellation, so the session went on preparing (reminding
of the old slot, sleeping until the ride check) before its room or its new slot began."""
# Every effect is idempotent, so one in flight when the patient checks in may as well finish.
LEAVE_CANCELLED = ActivityCancellationType.ABANDON


@workflow.defn(name="DosingSession")
class DosingSession:
    @workflow.init
    def __init__(self, session: SessionInput) -> None:
        self._input = session
        self._rules = session.rules
        workflow_id = session_workflow_id(session.course_id, session.number)
        self._summary = SessionSummary(
            number=session.number,
            phase=session.phase,
            scheduled_at=session.scheduled_at,
            workflow_id=workflow_id,
        )
        self.state = SessionState(scheduled_at=session.scheduled_at)
        self._core = SessionCore(
            self.state,
            self._rules.vitals,
            RoomTimes.of(self._rules, self._input.dosing, self._input.clock),
        )
        self._owner = AlertOwner(
            workflow_id=workflow_id,
            course_id=session.course_id,
            session=session.number,
            policies=session.escalation,
            label=f"Session {session.number}",
        )
        self._rescheduled = False
        self._preparations_called_off = False
        self._carrying_out = False
        self._reading_traces: dict[int, Context] = {}
        """Each reading's trace, from its signal until its judgement is recorded."""

    @workflow.run
    async def run(self, session: SessionInput) -> SessionSummary:
        carrying_out = asyncio.create_task(self._carry_out_commands())
        details = asyncio.create_task(keep_details_current(self._details))
        await self._run_session()
        await workflow.wait_condition(
            lambda: (
                not self.state.commands
                and not self._carrying_out
                and workflow.all_handlers_finished()
            )
        )
        carrying_out.cancel()
        details.cancel()
        workflow.logger.info("session_concluded", extra={"outcome": self._summary.outcome})
        return self._summary

    # --- The session, step by step -----------------------------------------------------------

    async def _run_session(self) -> None:
        while self._summary.outcome is None:
            check_ins = self.state.check_ins
            await self._record(SessionEvent.SCHEDULED, at=self.state.scheduled_at)
            self._rescheduled = False
            self._preparations_called_off = False
            preparing = asyncio.create_task(self._prepare())
            try:
                arrived = await self._until_check_in(check_ins)
            except GeneratorExit:
                # Dropped from a stopped worker's cache, and closed: nothing may be awaited now.
                raise
            except BaseException:
                await self._stop_preparing(preparing)
                raise
            await self._stop_preparing(preparing)
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
        first = max(hours_before, default=0)
        if not await self._prepare_until(
            scheduled - timedelta(hours=first), summaries.first_contact(first)
        ):
            return
        await self._request_ride()
        self._core.ride_requested()
        for hours in reminders:
            if not await self._prepare_until(
                scheduled - timedelta(hours=hours), summaries.reminder(hours)
            ):
                return
            await self._activity(
                Reminders.send_reminder,
                ReminderRequest(
                    course_id=self._input.course_id,
                    session=self._input.number,
                    scheduled_at=scheduled,
                    hours_before=hours,
                    clinic_timezone=self._input.clinic_timezone,
                ),
                summaries.reminder_sent(hours),
                SEND_TIMEOUT,
            )
        lead_hours = self._rules.transport_alert_hours_before
        lead = timedelta(hours=lead_hours)
        if not await self._give_staff_until(
            scheduled - lead, at_least=lead, summary=summaries.ride_check(lead_hours)
        ):
            return
        if self.state.transport_confirmed_via is None:
            self._core.transport_unconfirmed(self._rules.transport_alert_hours_before)

    async def _until_check_in(self, check_ins: int) -> bool:
        """True once the patient is checked in; the session is missed if that never happens.
        Counted by check-ins, not read from the stage: the core may have moved on (held,
        dosed, discharged, even delayed back to scheduled) before this coroutine wakes."""
        settled = await wait_for(
            lambda: (
                self.state.check_ins != check_ins
                or self._summary.outcome is not None
                or self._rescheduled
            ),
            within=self._until_grace_ends(),
            summary=summaries.CHECK_IN_WINDOW,
        )
        if not settled:
            self._conclude(SessionOutcome.MISSED, reason="patient did not check in")
        return self.state.check_ins != check_ins and self._summary.outcome is None

    async def _in_room(self) -> None:
        await self._record(SessionEvent.CHECKED_IN, actor=self.state.checked_in_by)
        while self.state.stage in BEFORE_DOSING and not self._ended():
            if self.state.stage is Stage.PRE_DOSE_VITALS:
                await self._pre_dose_check()
            elif self.state.stage is Stage.HELD:
                await self._hold_and_decision()
            else:
                await self._ready_to_dose()
        if self._ended():
            return
        if self.state.stage is Stage.NOT_DOSED:
            assert self.state.not_dosed_reason is not None
            self._conclude(
                SessionOutcome.CANCELLED, reason=f"not dosed: {self.state.not_dosed_reason}"
            )
        elif self.state.stage is Stage.SCHEDULED:
            await self._delayed()
        elif self.state.stage in (Stage.MONITORING, Stage.DISCHARGED):
            await self._dose()
            await self._monitor()
            await self._discharge()

    async def _pre_dose_check(self) -> None:
        """Until the pre-dose set (BP, heart rate, SpO2) is in and judged; the nurse is
        reminded when it is late, then it escalates."""
        step = 0
        while not await wait_for(
            lambda: self.state.stage is not Stage.PRE_DOSE_VITALS or self._ended(),
            within=None if self._overdue_done(step) else self._core.times.reading_due,
            summary=summaries.PRE_DOSE_VITALS_DUE,
        ):
            self._core.pre_dose_overdue(step)
            step += 1

    async def _hold_and_decision(self) -> None:
        """Above 140/90 the clinician weighs the risk and proceeds or delays; the prescriber
        was told at once, and an undecided hold escalates (S6)."""
        decided = await wait_for(
            lambda: self.state.stage is not Stage.HELD or self._ended(),
            within=self._core.times.hold_decision_due,
            summary=summaries.HOLD_DECISION_DUE,
        )
        if not decided:
            self._core.hold_overdue()
            await wait_for(lambda: self.state.stage is not Stage.HELD or self._ended())

    async def _ready_to_dose(self) -> None:
        """Until the dose (gated by `SessionCore.dose_refusal`), or a reading that holds or
        stops it."""
        await wait_for(lambda: self.state.stage is not Stage.READY_TO_DOSE or self._ended())

    async def _delayed(self) -> None:
        """The clinician delayed the session to a new time: the course hears of the move."""
        self._move_to(self.state.scheduled_at)
        course = workflow.get_external_workflow_handle(course_workflow_id(self._input.course_id))
        await course.signal(SESSION_MOVED, self._summary)

    async def _dose(self) -> None:
        administration = self.state.administration
        assert administration is not None
        await self._activity(
            SessionRecords.record_dose,
            DoseRecord(
                course_id=self._input.course_id,
                session=self._input.number,
                administration=administration,
            ),
            summaries.dose_recorded(administration.dose_mg, administration.devices),
        )
        await self._record(SessionEvent.DOSED, actor=administration.by, at=self.state.dosed_at)

    async def _monitor(self) -> None:
        """At least two hours from the dose; blood pressure at 40 minutes, then rechecks until
        it is back at a safe level. Readings are judged as they come, whatever the step."""
        overdue_step = 0
        while self.state.discharge is None and not self._ended():
            bp_due = self.state.bp_due_at
            overdue_at = (
                None if self._overdue_done(overdue_step) else self._core.bp_overdue_at(overdue_step)
            )
            deadlines = [t for t in (self._core.monitoring_ends_at(), overdue_at) if t is not None]
            await wait_for(
                self._monitoring_moves_on(bp_due),
                within=min(deadlines) - workflow.now() if deadlines else None,
                summary=summaries.MONITORING,
            )
            now = workflow.now()
            if self.state.discharge is not None or self.state.bp_due_at != bp_due:
                overdue_step = 0
                continue
            ends = self._core.monitoring_ends_at()
            if ends is not None and now >= ends:
                self._core.monitoring_ended()
            if overdue_at is not None and now >= overdue_at:
                self._core.bp_overdue(overdue_step)
                overdue_step += 1

    @staticmethod
    def _overdue_done(step: int) -> bool:
        """Every step of an overdue reading taken: nothing is left to wake up for."""
        return step >= OVERDUE_STEPS and workflow.patched(QUIET_WHEN_IDLE)

    def _monitoring_moves_on(self, bp_due: datetime | None) -> Callable[[], bool]:
        """Discharged, ended, or a blood pressure answered the one due."""
        return lambda: (
            self.state.discharge is not None or self._ended() or self.state.bp_due_at != bp_due
        )

    async def _discharge(self) -> None:
        discharge = self.state.discharge
        administration = self.state.administration
        if discharge is None or administration is None:
            return
        await self._record(SessionEvent.DISCHARGED, actor=discharge.by, discharge=discharge)
        self._conclude(SessionOutcome.ATTENDED, dose_mg=administration.dose_mg)
        # The form is filed by a workflow of its own: a portal outage never holds up the course.
        await self._activity(
            RemsFilings.start_rems_filing,
            RemsFilingInput(
                course_id=self._input.course_id,
                session=self._input.number,
                phase=self._input.phase,
                scheduled_at=self.state.scheduled_at,
                clock=self._input.clock,
                rules=self._rules,
                escalation=self._input.escalation,
            ),
            summaries.REMS_FILING_STARTED,
        )

    async def _request_ride(self) -> None:
        """The driver named last is asked to confirm by SMS (once per driver)."""
        await self._activity(
            TransportRequests.request_transport_confirmation,
            TransportRequest(
                course_id=self._input.course_id,
                session=self._input.number,
                scheduled_at=self.state.scheduled_at,
                clinic_timezone=self._input.clinic_timezone,
            ),
            summaries.RIDE_REQUESTED,
            SEND_TIMEOUT,
        )

    # --- Carrying out the core's commands -------------------------------------------------------

    async def _carry_out_commands(self) -> None:
        """In order, as the core queues them: alerts first among what one event causes."""
        while True:
            await workflow.wait_condition(lambda: bool(self.state.commands))
            self._carrying_out = True
            try:
                for command in self._core.take_commands():
                    await self._carry_out(command)
            finally:
                self._carrying_out = False

    async def _carry_out(self, command: Command) -> None:
        course_id, number = self._input.course_id, self._input.number
        if isinstance(command, Escalate):
            # A reading's alert (and so its page) in the reading's trace; its record follows.
            reading = command.reading_id
            with in_trace(None if reading is None else self._reading_traces.get(reading)):
                await raise_alert(
                    self._owner,
                    command,
                    self.state.escalations,
                    phase=self._input.phase,
                    cancellation_type=LEAVE_CANCELLED,
                )
        elif isinstance(command, RecordJudgement):
            judgement = ReadingJudgement(
                course_id=course_id,
                session=number,
                reading_id=command.reading_id,
                checkpoint=command.checkpoint,
                classification=command.classification,
            )
            summary = summaries.reading_judged(command.checkpoint, command.classification)
            with in_trace(self._reading_traces.pop(command.reading_id, None)):
                if workflow.patched(LOCAL_JUDGEMENT):
                    await workflow.execute_local_activity_method(
                        VitalsRecords.record_judgement,
                        judgement,
                        start_to_close_timeout=RECORD_TIMEOUT,
                        cancellation_type=LEAVE_CANCELLED,
                        summary=summary,
                    )
                else:
                    await self._activity(VitalsRecords.record_judgement, judgement, summary)
        elif isinstance(command, Notify):
            await self._activity(
                ClinicNotifier.notify_clinic,
                ClinicNotice(
                    effect_key=f"{self._summary.workflow_id}/{command.key}",
                    course_id=course_id,
                    kind=command.kind,
                    message=f"Session {number}: {command.message}",
                    recipient=command.recipient,
                    session=number,
                ),
                summaries.clinic_told(command.kind),
            )
        elif isinstance(command, RecordEvent):
            await self._record(command.event, at=command.at, detail=command.detail)
        elif isinstance(command, RequestRide):
            await self._request_ride()

    # --- Messages ------------------------------------------------------------------------------

    @workflow.query
    def summary(self) -> SessionSummary:
        return self._summary

    @workflow.query
    def details(self) -> SessionState:
        return self.state

    @workflow.update
    def check_in(self, request: CheckIn) -> SessionState:
        self._core.check_in(request.by, workflow.now())
        return self.state

    @check_in.validator
    def _check_check_in(self, request: CheckIn) -> None:
        require_argument(request, CheckIn)
        self._require_stage(Stage.SCHEDULED)
        if self._protocol_now() < self.state.scheduled_at - EARLIEST_CHECK_IN:
            raise ValueError("too early to check in for this session")

    @workflow.update
    async def confirm_transport(self, confirmation: TransportConfirmation) -> SessionState:
        self._core.transport_confirmed(confirmation.via)
        await self._record(
            SessionEvent.TRANSPORT_CONFIRMED, actor=confirmation.by, detail=confirmation.via.value
        )
        return self.state

    @confirm_transport.validator
    def _check_transport(self, confirmation: TransportConfirmation) -> None:
        require_argument(confirmation, TransportConfirmation)
        self._require_open()
        if self.state.transport_confirmed_via is not None:
            raise ValueError("the ride home is already confirmed")

    @workflow.signal
    def reading_arrived(self, *args: object) -> None:
        """From the API, once the reading is stored in Postgres: judged at once (S1)."""
        reading = signal_argument(ReadingArrived, args, "reading_arrived")
        if reading is not None:
            self._reading_traces[reading.reading_id] = current_trace()
            self._core.reading_arrived(reading.reading_id, reading.signs, workflow.now())

    @workflow.signal
    def driver_named(self, *args: object) -> None:
        """From the API, once staff named (another) driver: the ride is confirmed anew."""
        named = signal_argument(DriverNamed, args, "driver_named")
        if named is not None and self._summary.outcome is None:
            self._core.driver_named(named.revision)

    @workflow.signal(name=ESCALATION_CHANGED)
    def escalation_changed(self, *args: object) -> None:
        """From one of this session's escalations: opened, acknowledged or resolved."""
        change = signal_argument(EscalationChanged, args, ESCALATION_CHANGED)
        if change is not None and change.session == self._input.number:
            self._core.escalation_changed(change)

    @workflow.update
    def decide_hold(self, decision: HoldDecision) -> SessionState:
        self._core.hold_decided(decision, workflow.now())
        return self.state

    @decide_hold.validator
    def _check_hold(self, decision: HoldDecision) -> None:
        require_argument(decision, HoldDecision)
        self._require_stage(Stage.HELD)
        if decision.reschedule_to is not None and decision.reschedule_to <= self._protocol_now():
            raise ValueError("the new time must be in the future")

    @workflow.update
    def record_administration(self, administration: Administration) -> SessionState:
        self._core.dosed(administration, workflow.now())
        return self.state

    @record_administration.validator
    def _check_administration(self, administration: Administration) -> None:
        require_argument(administration, Administration)
        self._require_open()
        refusal = self._core.dose_refusal(administration, workflow.now())
        if refusal is not None:
            raise ValueError(refusal)
        self._check_dose(administration.dose_mg, administration.devices)

    @workflow.update
    def discharge(self, discharge: Discharge) -> SessionState:
        self._core.discharged(discharge)
        return self.state

    @discharge.validator
    def _check_discharge(self, discharge: Discharge) -> None:
        require_argument(discharge, Discharge)
        self._require_open()
        refusal = self._core.discharge_refusal(workflow.now())
        if refusal is not None:
            raise ValueError(refusal)

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
        if report.outcome is SessionOutcome.ATTENDED:
            raise ValueError("an attended session is recorded by check-in to discharge")
        if self.state.stage not in (Stage.SCHEDULED, *BEFORE_DOSING):
            raise ValueError("the dose is given: the session ends with its discharge")

    @workflow.signal
    def cancel(self, *args: object) -> None:
        """From the course: pause, discontinue or the end of maintenance. A dosed patient stays
        in the room until discharge whatever the course does."""
        request = signal_argument(Cancel, args, "cancel")
        not_dosed = self.state.stage in (Stage.SCHEDULED, *BEFORE_DOSING)
        if request is not None and self._summary.outcome is None and not_dosed:
            self._conclude(SessionOutcome.CANCELLED, reason=request.reason)

    @workflow.signal
    def reschedule(self, *args: object) -> None:
        """From the course, which validated the move."""
        request = signal_argument(Reschedule, args, "reschedule")
        if request is None or self._summary.outcome is not None:
            return
        if self.state.stage is Stage.SCHEDULED:
            self.state.scheduled_at = request.new_time
            self._move_to(request.new_time)

    def _details(self) -> str:
        """Where the session stands, for the UI: readings by their verdicts only, and no
        free-text note."""
        state = self.state
        ride = state.transport_confirmed_via
        lines = [
            f"**Stage** {state.stage.value}",
            f"**Scheduled** {state.scheduled_at.isoformat()}",
            "**Ride home** "
            + (
                f"confirmed ({ride.value})"
                if ride is not None
                else "requested"
                if state.ride_requested
                else "not requested yet"
            ),
        ]
        if state.readings:
            last = state.readings[-1].level.name.lower()
            lines.append(f"**Readings judged** {len(state.readings)}, the last {last}")
        if state.dosed_at is not None:
            lines.append(f"**Dosed** {state.dosed_at.isoformat()}")
        if state.stage is Stage.MONITORING and state.bp_due_at is not None:
            lines.append(f"**BP due** {state.bp_due_at.isoformat()}")
        open_ = [f"{o.severity} {c}" for c, o in state.escalations.by_condition.items() if o.open]
        if open_:
            lines.append(f"**Open escalations** {', '.join(open_)}")
        if self._summary.outcome is not None:
            lines.append(f"**Outcome** {self._summary.outcome.value}")
        return "\n\n".join(lines)

    # --- Mechanics -----------------------------------------------------------------------------

    def _until_grace_ends(self) -> timedelta:
        """Real time left to check in: the slot on the calendar, then the grace staff have."""
        clock, grace = self._input.clock, timedelta(hours=self._input.outcome_grace_hours)
        until_slot = clock.real_delay_until(self.state.scheduled_at, workflow.now())
        return until_slot + clock.response_duration(grace)

    def _check_dose(self, dose_mg: int, devices: int) -> None:
        if dose_mg not in self._input.allowed_doses_mg:
            raise ValueError(
                f"dose {dose_mg} mg not allowed now; allowed: {self._input.allowed_doses_mg}"
            )
        expected = devices_for(self._input.dosing, dose_mg)
        if devices != expected:
            raise ValueError(f"{dose_mg} mg is {expected} devices")

    def _move_to(self, protocol_time: datetime) -> None:
        self._summary = self._summary.model_copy(update={"scheduled_at": protocol_time})
        self._rescheduled = True

    def _conclude(self, outcome: SessionOutcome, **details: object) -> None:
        self._summary = self._summary.model_copy(update={"outcome": outcome, **details})

    def _ended(self) -> bool:
        return self._summary.outcome is not None or self._rescheduled

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

    async def _give_staff_until(
        self, protocol_time: datetime, *, at_least: timedelta, summary: str
    ) -> bool:
        """Until a protocol time by which staff must have answered (`CourseClock.staff_window`:
        on a compressed clock a session booked at short notice still leaves them time); False
        once preparations are called off."""
        window = self._input.clock.staff_window(protocol_time - self._protocol_now(), at_least)
        return await self._preparing_for(window, summary)

    async def _prepare_until(self, protocol_time: datetime, summary: str) -> bool:
        """Until a protocol time; False once preparations are called off."""
        delay = self._input.clock.real_delay_until(protocol_time, workflow.now())
        return await self._preparing_for(delay, summary)

    async def _preparing_for(self, delay: timedelta, summary: str) -> bool:
        """Wait `delay` (real time) before the next step of the preparations; False, at once,
        once they are called off (`PREPARATIONS_CALLED_OFF`)."""
        if not workflow.patched(PREPARATIONS_CALLED_OFF):
            if delay > timedelta(0):
                await workflow.sleep(delay, summary=summary)
            return True
        if self._preparations_called_off:
            return False
        return not await wait_for(
            lambda: self._preparations_called_off, within=delay, summary=summary
        )

    async def _stop_preparing(self, preparing: asyncio.Task[None]) -> None:
        """Reminders still to come are moot once the patient is in (or the slot is gone)."""
        self._preparations_called_off = True
        preparing.cancel()
        with contextlib.suppress(asyncio.CancelledError, ActivityError):
            await preparing

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
            SessionRecords.record_session_event,
            SessionEventRecord(
                course_id=self._input.course_id,
                session=self._input.number,
                event=event,
                at=at or workflow.now(),
                actor=actor,
                detail=detail,
                discharge=discharge,
            ),
            summaries.session_event(event),
        )

    async def _activity(
        self,
        activity: Callable[[Any, Argument], Awaitable[object]],
        argument: Argument,
        summary: str,
        allowed: timedelta = RECORD_TIMEOUT,
    ) -> None:
        await workflow.execute_activity_method(
            activity,
            argument,
            start_to_close_timeout=allowed,
            cancellation_type=LEAVE_CANCELLED,
            summary=summary,
        )
