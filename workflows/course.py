"""`TreatmentCourse`: one patient's course, from assessment to the end of follow-up.

The run method reads as the protocol: assess, induce, review, maintain, follow up. Clinic events
arrive as validated Updates; the handlers record them in the course state and the protocol
steps act on them. The course continues-as-new at each phase boundary and whenever its history
grows long, carrying its whole state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.notifications import ClinicNotifier
    from activities.patients import PatientRegistry
    from domain import contract, summaries
    from domain.calendar import next_session_at
    from domain.clock import CourseClock
    from domain.conditions import Condition
    from domain.course import (
        RECENT_SESSIONS_KEPT,
        AssessmentReport,
        Awaiting,
        CourseResult,
        CourseStart,
        CourseState,
        CourseStatus,
        Discontinue,
        EndMaintenance,
        FrequencyChange,
        Pause,
        Phase,
        RelapseDecision,
        Reschedule,
        Resume,
        ReviewDecision,
        ScoreReport,
    )
    from domain.dosing import allowed_doses
    from domain.eligibility import Eligibility, assess
    from domain.escalation import (
        ESCALATION_CHANGED,
        EscalationChanged,
        EscalationStatus,
        Severity,
        escalation_workflow_id,
    )
    from domain.maintenance import Suggestion, is_relapse, suggest_frequency
    from domain.notices import ClinicNotice, NoticeKind
    from domain.protocol import Frequency, Indication, Protocol
    from domain.records import PatientRegistration
    from domain.scales import Benefit, Scale, Score, benefit
    from domain.session import (
        SESSION_MOVED,
        Cancel,
        SessionInput,
        SessionOutcome,
        SessionSummary,
    )

from workflows.alerting import AlertOwner, raise_alert
from workflows.messages import require_argument, signal_argument
from workflows.session import DosingSession
from workflows.waiting import keep_details_current, wait_for

HISTORY_EVENTS_PER_RUN = 1_000
"""Continue-as-new past this many events, well before the server would suggest it."""
NOTICE_TIMEOUT = timedelta(minutes=1)


@workflow.defn(name="TreatmentCourse")
class TreatmentCourse:
    @workflow.init
    def __init__(self, start: CourseStart) -> None:
        self.start = start.model_copy(update={"carried_state": None})
        now = workflow.now()
        self.state = start.carried_state or CourseState(
            clock=CourseClock(anchor=now, scale=start.time_scale), phase_started_at=now
        )
        self._session: ChildWorkflowHandle[DosingSession, SessionSummary] | None = None
        self._review_decision: ReviewDecision | None = None
        self._relapse_decision: RelapseDecision | None = None
        self._published: tuple[object, ...] = ()

    @workflow.run
    async def run(self, start: CourseStart) -> CourseResult:
        steps: dict[Phase, Callable[[], Awaitable[None]]] = {
            Phase.ASSESSMENT: self._assess,
            Phase.INDUCTION: self._induce,
            Phase.INDUCTION_REVIEW: self._review_induction,
            Phase.MAINTENANCE: self._maintain,
            Phase.FOLLOW_UP: self._follow_up,
        }
        details = asyncio.create_task(keep_details_current(self._details))
        if start.carried_state is None:
            await self._register_patient()
        while not self.state.phase.is_final:
            self._publish()
            phase = self.state.phase
            await steps[phase]()
            if self.state.phase is not phase and not self.state.phase.is_final:
                await self._continue_as_new()
        self.state.awaiting = None
        self._publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        details.cancel()
        return CourseResult(
            course_id=start.course_id,
            phase=self.state.phase,
            sessions_done=self.state.sessions_dosed,
            reason=self.state.final_reason,
        )

    # --- The protocol, phase by phase ------------------------------------------------------

    async def _register_patient(self) -> None:
        """The patient's contact details go to the clinical record, where reminders read them;
        the course pins its clinic's current protocol (S8)."""
        self.state.protocol = await workflow.execute_activity_method(
            PatientRegistry.register_patient,
            PatientRegistration(
                course_id=self.start.course_id,
                patient_ref=self.start.patient_ref,
                clinic_id=self.start.clinic_id,
                clinic_timezone=self.start.clinic_timezone,
                indication=self.start.indication,
                patient=self.start.patient,
            ),
            start_to_close_timeout=NOTICE_TIMEOUT,
            summary=summaries.REGISTER_PATIENT,
        )

    async def _assess(self) -> None:
        self.state.awaiting = Awaiting.ASSESSMENT
        await self._wait(lambda: self.state.eligibility is not None)
        eligibility = self.state.eligibility
        if eligibility is None:
            return
        if not eligibility.eligible:
            self._finish(Phase.INELIGIBLE, "; ".join(eligibility.reasons))
        else:
            self._enter(Phase.INDUCTION, Frequency.TWICE_WEEKLY)

    async def _induce(self) -> None:
        """Twice weekly for the induction weeks; a missed session leaves the schedule as it was."""
        sessions = self.protocol.phases.induction_weeks * 2
        while self.state.phase_sessions < sessions and not self._stopped():
            await self._run_next_session()
            await self._continue_as_new_if_long()
        if self._stopped():
            return
        if self.start.indication is Indication.MDD_SUICIDAL:
            self._enter(Phase.FOLLOW_UP)  # this indication has no maintenance
        else:
            self._enter(Phase.INDUCTION_REVIEW)

    async def _review_induction(self) -> None:
        """A clinician evaluates the benefit and decides whether treatment continues."""
        self.state.review = self._benefit()
        decided = await self._await_decision(
            Awaiting.REVIEW_DECISION,
            lambda: self._review_decision is not None,
            Condition.REVIEW_OVERDUE,
            "End-of-induction review decision is overdue",
        )
        decision = self._review_decision
        if not decided or decision is None:
            return
        if decision.continue_treatment:
            self._enter(Phase.MAINTENANCE, Frequency.WEEKLY)
        else:
            self._finish(Phase.DISCONTINUED, f"stopped at induction review: {decision.note}")

    async def _maintain(self) -> None:
        """Weekly for weeks 5-8, then weekly or every 2 weeks as the clinician sets it."""
        while not self._maintenance_over() and not self._stopped():
            await self._run_next_session()
            self.state.suggestion = self._suggestion()
            await self._continue_as_new_if_long()
        if not self._stopped():
            self._enter(Phase.FOLLOW_UP)

    async def _follow_up(self) -> None:
        """PHQ-9 check-ins after treatment; a relapse goes to a clinician."""
        check_in_weeks = self.protocol.phases.follow_up_check_in_weeks
        window = timedelta(days=self.protocol.phases.check_in_window_days)
        while self.state.check_ins_done < len(check_in_weeks) and not self._stopped():
            number, weeks = self.state.check_ins_done + 1, check_in_weeks[self.state.check_ins_done]
            due = self.state.phase_started_at + timedelta(weeks=weeks)
            self.state.next_check_in_at = due
            self.state.awaiting = None
            self._publish()
            await self._wait(
                lambda: False, until=due, summary=summaries.check_in_due(number, weeks)
            )
            if self._stopped():
                return
            self.state.awaiting = Awaiting.CHECK_IN
            self._publish()
            scored = await self._wait(
                self._check_in_answered(due),
                until=due + window,
                summary=summaries.check_in_window(number, window.days),
            )
            self.state.awaiting = None
            if self._stopped():
                return
            self.state.check_ins_done += 1
            if not scored:
                await self._notify(
                    NoticeKind.CHECK_IN_MISSED,
                    f"Follow-up check-in {self.state.check_ins_done} had no PHQ-9",
                    f"check-in-{self.state.check_ins_done}",
                )
            elif self._relapsed():
                await self._handle_relapse()
                if self.state.phase is not Phase.FOLLOW_UP:
                    return
            await self._continue_as_new_if_long()
        self.state.next_check_in_at = None
        if not self._stopped():
            self._finish(Phase.COMPLETED, "follow-up complete")

    def _check_in_answered(self, due: datetime) -> Callable[[], bool]:
        return lambda: (
            self.state.last_phq9_reported_at is not None and self.state.last_phq9_reported_at >= due
        )

    async def _handle_relapse(self) -> None:
        self.state.relapse_flagged = True
        await self._notify(
            NoticeKind.RELAPSE_FLAGGED,
            "Relapse flagged at follow-up: clinician decision needed",
            f"relapse-{self.state.check_ins_done}",
        )
        self._relapse_decision = None
        decided = await self._await_decision(
            Awaiting.RELAPSE_DECISION,
            lambda: self._relapse_decision is not None,
            Condition.RELAPSE_DECISION_OVERDUE,
            "Relapse decision is overdue",
        )
        decision = self._relapse_decision
        if not decided or decision is None:
            return
        self.state.relapse_flagged = False
        if decision.reinduce:
            self.state.check_ins_done = 0
            self.state.next_check_in_at = None
            self._enter(Phase.INDUCTION, Frequency.TWICE_WEEKLY)

    # --- Sessions ----------------------------------------------------------------------------

    async def _run_next_session(self) -> None:
        await self._hold_while_paused()
        if self._stopped():
            return
        frequency = self.state.frequency
        assert frequency is not None, "a dosing phase always has a frequency"
        previous = (
            self.state.recent_sessions[-1].scheduled_at if self.state.recent_sessions else None
        )
        scheduled_at = next_session_at(
            frequency,
            not_before=self._protocol_now(),
            previous=previous,
            calendar=self.protocol.calendar,
            timezone=self.start.clinic_timezone,
        )
        self.state.sessions_started += 1
        number = self.state.sessions_started
        self.state.current_session = SessionSummary(
            number=number,
            phase=self.state.phase.value,
            scheduled_at=scheduled_at,
            workflow_id=contract.session_workflow_id(self.start.course_id, number),
        )
        self.state.awaiting = Awaiting.SESSION
        self._publish()
        self._session = await workflow.start_child_workflow(
            DosingSession.run,
            SessionInput(
                course_id=self.start.course_id,
                number=number,
                phase=self.state.phase.value,
                scheduled_at=scheduled_at,
                clock=self.state.clock,
                dosing=self.protocol.dosing,
                allowed_doses_mg=allowed_doses(
                    self.protocol.dosing,
                    self.start.indication,
                    [] if self.state.last_dose_mg is None else [self.state.last_dose_mg],
                ),
                outcome_grace_hours=self.protocol.phases.outcome_grace_hours,
                rules=self.protocol.session,
                clinic_timezone=self.start.clinic_timezone,
                escalation=self.protocol.escalation,
            ),
            id=self.state.current_session.workflow_id,
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            static_summary=summaries.session(number, self.state.phase.value),
        )
        summary = await self._session
        self._session = None
        self._record_session(summary)
        if summary.score is not None:
            await self._screen_self_harm(summary.score)

    def _record_session(self, summary: SessionSummary) -> None:
        state = self.state
        state.current_session = None
        state.awaiting = None
        state.recent_sessions = [*state.recent_sessions, summary][-RECENT_SESSIONS_KEPT:]
        # A session cancelled by a pause or a stop is not a slot of the schedule.
        if summary.outcome is not SessionOutcome.CANCELLED or not (state.paused or self._stopped()):
            state.phase_sessions += 1
        if summary.outcome is SessionOutcome.ATTENDED:
            state.sessions_dosed += 1
            state.last_dose_mg = summary.dose_mg
        if summary.outcome is SessionOutcome.MISSED and state.phase is Phase.MAINTENANCE:
            state.missed_since_change += 1
        if summary.score is not None:
            state.record_score(summary.score)
        workflow.logger.info(
            "session_recorded", extra={"session": summary.number, "outcome": summary.outcome}
        )

    async def _hold_while_paused(self) -> None:
        if self.state.paused:
            self.state.awaiting = Awaiting.RESUME
            self._publish()
            await self._wait(lambda: not self.state.paused)

    async def _cancel_current_session(self, reason: str) -> None:
        if self._session is not None:
            await self._session.signal(DosingSession.cancel, Cancel(reason=reason))

    # --- Messages ----------------------------------------------------------------------------

    @workflow.query
    def status(self) -> CourseStatus:
        state = self.state
        return CourseStatus(
            course_id=self.start.course_id,
            patient_ref=self.start.patient_ref,
            clinic_id=self.start.clinic_id,
            indication=self.start.indication,
            protocol_version=None if state.protocol is None else state.protocol.version,
            clock=state.clock,
            phase=state.phase,
            awaiting=state.awaiting,
            paused=state.paused,
            frequency=state.frequency,
            sessions_done=state.sessions_dosed,
            # Only a session that exists (its start has returned a handle) is one to act on.
            current_session=state.current_session if self._session is not None else None,
            next_session_at=self._next_session_at(),
            next_check_in_at=state.next_check_in_at,
            check_ins_done=state.check_ins_done,
            recent_sessions=state.recent_sessions,
            baseline=state.baseline,
            latest_scores=state.latest,
            benefit=state.review if state.phase is Phase.INDUCTION_REVIEW else self._benefit(),
            suggestion=state.suggestion,
            decision_due_at=state.decision_due_at,
            relapse_flagged=state.relapse_flagged,
            open_escalations=list(state.open_escalations.values()),
            final_reason=state.final_reason,
            run=state.runs,
        )

    @workflow.update
    async def submit_assessment(self, report: AssessmentReport) -> Eligibility:
        eligibility = assess(report.assessment, self.start.indication)
        self.state.eligibility = eligibility
        self.state.awaiting = None
        for score in report.assessment.baseline_scores:
            self.state.baseline[score.scale] = score
            self.state.record_score(score)
        for score in report.assessment.baseline_scores:
            await self._screen_self_harm(score)
        return eligibility

    @submit_assessment.validator
    def _check_assessment(self, report: AssessmentReport) -> None:
        require_argument(report, AssessmentReport)
        self._require_phase(Phase.ASSESSMENT)
        if self.state.eligibility is not None:
            raise ValueError("the assessment has already been recorded")

    @workflow.update
    async def record_score(self, report: ScoreReport) -> None:
        self.state.record_score(report.score)
        if report.score.scale is Scale.PHQ9:
            self.state.last_phq9_reported_at = self._protocol_now()
        if self.state.awaiting is Awaiting.CHECK_IN:
            self.state.awaiting = None
        await self._screen_self_harm(report.score)

    @record_score.validator
    def _check_score(self, report: ScoreReport) -> None:
        require_argument(report, ScoreReport)
        self._require_active()
        # A PHQ-9 is always taken: it screens item 9, whatever scale the baseline used.
        if report.score.scale is not Scale.PHQ9 and report.score.scale not in self.state.baseline:
            raise ValueError(f"no baseline {report.score.scale.value} to compare against")

    async def _screen_self_harm(self, score: Score) -> None:
        """Item 9 above 0, from any source, every occurrence, pages (S7)."""
        if score.needs_same_day_follow_up:
            await self._escalate(
                Condition.SELF_HARM_ITEM,
                Severity.URGENT,
                "PHQ-9 item 9 above 0: same-day clinician follow-up",
            )

    @workflow.update
    def decide_review(self, decision: ReviewDecision) -> None:
        self._review_decision = decision
        self.state.awaiting = None

    @decide_review.validator
    def _check_review(self, decision: ReviewDecision) -> None:
        require_argument(decision, ReviewDecision)
        self._require_phase(Phase.INDUCTION_REVIEW)
        if self._review_decision is not None:
            raise ValueError("the review has already been decided")

    @workflow.update
    def change_frequency(self, change: FrequencyChange) -> None:
        self.state.frequency = change.frequency
        self.state.missed_since_change = 0
        self.state.suggestion = self._suggestion()

    @change_frequency.validator
    def _check_frequency(self, change: FrequencyChange) -> None:
        require_argument(change, FrequencyChange)
        self._require_phase(Phase.MAINTENANCE)
        if change.frequency is self.state.frequency:
            raise ValueError(f"the frequency is already {change.frequency.value}")
        if change.frequency is Frequency.EVERY_2_WEEKS and not self._may_space_out():
            raise ValueError("every 2 weeks is possible only from maintenance week 9")

    @workflow.update
    async def end_maintenance(self, request: EndMaintenance) -> None:
        self.state.maintenance_end_requested = True
        await self._cancel_current_session(f"maintenance ended: {request.note}")

    @end_maintenance.validator
    def _check_end_maintenance(self, request: EndMaintenance) -> None:
        require_argument(request, EndMaintenance)
        self._require_phase(Phase.MAINTENANCE)

    @workflow.update
    def decide_relapse(self, decision: RelapseDecision) -> None:
        self._relapse_decision = decision
        self.state.awaiting = None

    @decide_relapse.validator
    def _check_relapse(self, decision: RelapseDecision) -> None:
        require_argument(decision, RelapseDecision)
        if self.state.awaiting is not Awaiting.RELAPSE_DECISION:
            raise ValueError("no relapse decision is pending")

    @workflow.update
    async def pause(self, request: Pause) -> None:
        self.state.paused = True
        self.state.pause_reason = request.reason
        await self._cancel_current_session(f"course paused: {request.reason}")
        self._publish()

    @pause.validator
    def _check_pause(self, request: Pause) -> None:
        require_argument(request, Pause)
        self._require_phase(Phase.INDUCTION, Phase.MAINTENANCE)
        if self.state.paused:
            raise ValueError("the course is already paused")

    @workflow.update
    def resume(self, request: Resume) -> None:
        self.state.paused = False
        self.state.pause_reason = None

    @resume.validator
    def _check_resume(self, request: Resume) -> None:
        require_argument(request, Resume)
        self._require_active()
        if not self.state.paused:
            raise ValueError("the course is not paused")

    @workflow.update
    async def discontinue(self, request: Discontinue) -> None:
        self._finish(Phase.DISCONTINUED, request.reason)
        await self._cancel_current_session(f"course discontinued: {request.reason}")

    @discontinue.validator
    def _check_discontinue(self, request: Discontinue) -> None:
        require_argument(request, Discontinue)
        self._require_active()

    @workflow.update
    async def reschedule_session(self, request: Reschedule) -> SessionSummary:
        current = self.state.current_session
        assert current is not None and self._session is not None  # checked by the validator
        self.state.current_session = current.model_copy(update={"scheduled_at": request.new_time})
        await self._session.signal(DosingSession.reschedule, request)
        self._publish()
        return self.state.current_session

    @reschedule_session.validator
    def _check_reschedule(self, request: Reschedule) -> None:
        require_argument(request, Reschedule)
        self._require_active()
        current = self.state.current_session
        if current is None or self._session is None:
            raise ValueError("no session is scheduled")
        if request.session != current.number:
            raise ValueError(
                f"session {request.session} is not the scheduled one ({current.number})"
            )
        if request.new_time <= self._protocol_now():
            raise ValueError("the new time must be in the future")

    @workflow.signal(name=ESCALATION_CHANGED)
    async def escalation_changed(self, *args: object) -> None:
        """From one of the course's escalations (its own or its sessions'): opened,
        acknowledged or resolved."""
        change = signal_argument(EscalationChanged, args, ESCALATION_CHANGED)
        if change is None or self._stopped():
            return
        # Its id derives from the dedup key, which starts with this course's workflow id.
        course = contract.course_workflow_id(self.start.course_id)
        if not change.escalation_id.startswith(escalation_workflow_id(f"{course}-")):
            workflow.logger.warning(
                "signal_dropped",
                extra={"signal": ESCALATION_CHANGED, "reason": "not this course's escalation"},
            )
            return
        if change.status is EscalationStatus.RESOLVED:
            self.state.open_escalations.pop(change.escalation_id, None)
        else:
            self.state.open_escalations[change.escalation_id] = change
        self._publish()
        if change.session is None:
            again = self.state.escalations.changed(change, "the same condition, again")
            await raise_alert(
                self._owner(), again, self.state.escalations, phase=self.state.phase.value
            )

    @workflow.signal(name=SESSION_MOVED)
    def session_moved(self, *args: object) -> None:
        """From the current session, when a clinician delayed it to a new time."""
        session = signal_argument(SessionSummary, args, SESSION_MOVED)
        current = self.state.current_session
        if (
            session is not None
            and current is not None
            and (session.number, session.workflow_id) == (current.number, current.workflow_id)
        ):
            self.state.current_session = session
            self._publish()

    # --- Rules applied to the state ----------------------------------------------------------

    def _benefit(self) -> Benefit | None:
        if self.state.protocol is None:
            return None  # an assessment can come before the pin; `status` answers meanwhile
        for scale in (Scale.PHQ9, Scale.MADRS):
            baseline, latest = self.state.baseline.get(scale), self.state.latest.get(scale)
            if baseline is not None and latest is not None:
                return benefit(baseline, latest, self.protocol.scales)
        return None

    def _suggestion(self) -> Suggestion | None:
        frequency = self.state.frequency
        if frequency is None or self.state.phase is not Phase.MAINTENANCE:
            return None
        return suggest_frequency(
            frequency,
            may_space_out=self._may_space_out(),
            missed_since_change=self.state.missed_since_change,
            baseline=self.state.baseline.get(Scale.PHQ9),
            phq9_history=self.state.phq9_history,
            rules=self.protocol.scales,
        )

    def _may_space_out(self) -> bool:
        weekly_weeks = self.protocol.phases.fixed_weekly_maintenance_weeks
        return self._protocol_now() >= self.state.phase_started_at + timedelta(weeks=weekly_weeks)

    def _maintenance_over(self) -> bool:
        weeks = self.protocol.phases.maintenance_weeks
        over_by_protocol = weeks is not None and self._protocol_now() >= (
            self.state.phase_started_at + timedelta(weeks=weeks)
        )
        return self.state.maintenance_end_requested or over_by_protocol

    def _relapsed(self) -> bool:
        baseline = self.state.baseline.get(Scale.PHQ9)
        latest = self.state.latest.get(Scale.PHQ9)
        return bool(baseline and latest and is_relapse(baseline, latest, self.protocol.scales))

    def _next_session_at(self) -> datetime | None:
        current = self.state.current_session
        return current.scheduled_at if current is not None and not self.state.paused else None

    # --- Course mechanics --------------------------------------------------------------------

    @property
    def protocol(self) -> Protocol:
        """The pinned protocol. The run pins it first; handlers that may come sooner wait."""
        if self.state.protocol is None:
            raise RuntimeError("the course's protocol is not pinned yet")
        return self.state.protocol

    def _protocol_now(self) -> datetime:
        return self.state.clock.to_protocol(workflow.now())

    def _stopped(self) -> bool:
        return self.state.phase.is_final

    def _require_active(self) -> None:
        if self._stopped():
            raise ValueError(f"the course is {self.state.phase.value}")

    def _require_phase(self, *phases: Phase) -> None:
        if self.state.phase not in phases:
            expected = " or ".join(p.value for p in phases)
            raise ValueError(f"the course is in {self.state.phase.value}, not {expected}")

    async def _wait(
        self,
        condition: Callable[[], bool],
        until: datetime | None = None,
        *,
        within: timedelta | None = None,
        summary: str | None = None,
    ) -> bool:
        """Wait for `condition` or the end of the course, at most until a protocol time or
        `within` real time (a timer shown in the UI as `summary`)."""
        timeout = within
        if until is not None:
            timeout = self.state.clock.real_delay_until(until, workflow.now())
        met = await wait_for(lambda: condition() or self._stopped(), timeout, summary=summary)
        return met and not self._stopped()

    async def _await_decision(
        self, awaiting: Awaiting, decided: Callable[[], bool], overdue: Condition, message: str
    ) -> bool:
        """Wait for a clinician's decision, reminding the clinic each time it becomes overdue."""
        self.state.awaiting = awaiting
        self.state.decision_reminders = 0
        overdue_after = timedelta(hours=self.protocol.phases.decision_overdue_hours)
        self.state.decision_due_at = self._protocol_now() + overdue_after
        self._publish()
        while not await self._decided_in_time(awaiting, decided, overdue_after):
            if self._stopped():
                return False
            self.state.decision_reminders += 1
            await self._escalate(overdue, Severity.ROUTINE, message)
            self.state.decision_due_at += overdue_after
        self.state.decision_due_at = None
        self.state.awaiting = None
        return True

    async def _decided_in_time(
        self, awaiting: Awaiting, decided: Callable[[], bool], overdue_after: timedelta
    ) -> bool:
        # A clinician answers in real time, however fast a simulated calendar runs.
        within = self.state.clock.response_duration(overdue_after)
        hours = int(overdue_after.total_seconds()) // 3600
        return await self._wait(
            decided, within=within, summary=summaries.decision_due(awaiting.value, hours)
        )

    async def _escalate(self, condition: Condition, severity: Severity, message: str) -> None:
        """Open the condition's escalation, or join it while it is open (S2)."""
        await workflow.wait_condition(lambda: self.state.protocol is not None)
        alert = self.state.escalations.trigger(condition, severity, message)
        await raise_alert(
            self._owner(), alert, self.state.escalations, phase=self.state.phase.value
        )

    def _owner(self) -> AlertOwner:
        return AlertOwner(
            workflow_id=contract.course_workflow_id(self.start.course_id),
            course_id=self.start.course_id,
            session=None,
            policies=self.protocol.escalation,
            label="Course",
        )

    async def _notify(self, kind: NoticeKind, message: str, occasion: str) -> None:
        # The key names the occasion within this course, so a retry or replay never repeats it.
        course = contract.course_workflow_id(self.start.course_id)
        key = f"{course}/{self.state.sessions_started}/{occasion}"
        await workflow.execute_activity_method(
            ClinicNotifier.notify_clinic,
            ClinicNotice(
                effect_key=key, course_id=self.start.course_id, kind=kind, message=message
            ),
            start_to_close_timeout=NOTICE_TIMEOUT,
            summary=summaries.clinic_told(kind),
        )

    def _enter(self, phase: Phase, frequency: Frequency | None = None) -> None:
        workflow.logger.info("phase_entered", extra={"phase": phase.value})
        self.state.phase = phase
        self.state.phase_started_at = self._protocol_now()
        self.state.phase_sessions = 0
        self.state.frequency = frequency
        self.state.missed_since_change = 0
        self.state.suggestion = None
        self.state.awaiting = None

    def _finish(self, phase: Phase, reason: str) -> None:
        self._enter(phase)
        self.state.final_reason = reason

    async def _continue_as_new_if_long(self) -> None:
        info = workflow.info()
        if (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > HISTORY_EVENTS_PER_RUN
        ):
            await self._continue_as_new()

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.state.runs += 1
        workflow.continue_as_new(self.start.model_copy(update={"carried_state": self.state}))

    def _publish(self) -> None:
        """Keep search attributes current; upsert only what changed."""
        phase, next_at = self.state.phase.value, self._next_session_at()
        open_escalations = len(self.state.open_escalations)
        if (phase, next_at, open_escalations) != self._published:
            workflow.upsert_search_attributes(
                [
                    contract.COURSE_PHASE.value_set(phase),
                    contract.CLINIC_ID.value_set(self.start.clinic_id),
                    contract.PATIENT_REF.value_set(self.start.patient_ref),
                    contract.OPEN_ESCALATIONS.value_set(open_escalations),
                    contract.NEXT_SESSION_AT.value_set(next_at)
                    if next_at is not None
                    else contract.NEXT_SESSION_AT.value_unset(),
                ]
            )
            self._published = (phase, next_at, open_escalations)

    def _details(self) -> str:
        """What the course is doing, for the UI: state and ids only, never a free-text note
        (the outcome's reason may quote one; `status` has it)."""
        state = self.state
        lines = [
            f"**Phase** {state.phase.value}" + (" (paused)" if state.paused else ""),
            f"**Awaiting** {state.awaiting.value if state.awaiting else '-'}",
            f"**Sessions dosed** {state.sessions_dosed}",
            f"**Frequency** {state.frequency.value if state.frequency else '-'}",
            f"**Protocol** {state.protocol.version if state.protocol else '-'}",
        ]
        current = state.current_session
        if current is not None and (next_at := self._next_session_at()) is not None:
            lines.append(f"**Next session** {current.number}, {next_at.isoformat()}")
        if state.decision_due_at is not None:
            lines.append(f"**Decision due** {state.decision_due_at.isoformat()}")
        if (check_in_at := state.next_check_in_at) is not None:
            lines.append(f"**Next check-in** {state.check_ins_done + 1}, {check_in_at.isoformat()}")
        if state.open_escalations:
            open_ = ", ".join(
                f"{e.severity} {e.condition}" for e in state.open_escalations.values()
            )
            lines.append(f"**Open escalations** {len(state.open_escalations)}: {open_}")
        return "\n\n".join(lines)
