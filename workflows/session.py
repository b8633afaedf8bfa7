"""`DosingSession`: one session of a course, from scheduling to its outcome.

Today the clinic reports the outcome (attended with the dose, missed, or cancelled); the in-room
steps (reminders, transport, vitals, monitoring) grow inside this workflow.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contract import session_workflow_id
    from domain.course import Reschedule
    from domain.dosing import devices_for
    from domain.session import Cancel, OutcomeReport, SessionInput, SessionOutcome, SessionSummary

from workflows.waiting import wait_for

EARLIEST_ATTENDANCE_REPORT = timedelta(hours=1)
"""An attended outcome may be reported from this long before the scheduled time."""


@workflow.defn(name="DosingSession")
class DosingSession:
    @workflow.init
    def __init__(self, session: SessionInput) -> None:
        self._input = session
        self._summary = SessionSummary(
            number=session.number,
            phase=session.phase,
            scheduled_at=session.scheduled_at,
            workflow_id=session_workflow_id(session.course_id, session.number),
        )
        self._rescheduled = False

    @workflow.run
    async def run(self, session: SessionInput) -> SessionSummary:
        grace = timedelta(hours=session.outcome_grace_hours)
        while self._summary.outcome is None:
            self._rescheduled = False
            deadline = self._summary.scheduled_at + grace
            settled = await wait_for(
                lambda: self._summary.outcome is not None or self._rescheduled,
                within=session.clock.real_delay_until(deadline, workflow.now()),
            )
            if not settled:
                self._conclude(SessionOutcome.MISSED, reason="no outcome reported")
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

    @workflow.query
    def summary(self) -> SessionSummary:
        return self._summary

    @workflow.update
    def report_outcome(self, report: OutcomeReport) -> SessionSummary:
        self._conclude(
            report.outcome, dose_mg=report.dose_mg, score=report.score, reason=report.note
        )
        return self._summary

    @report_outcome.validator
    def _check_report(self, report: OutcomeReport) -> None:
        if self._summary.outcome is not None:
            raise ValueError(f"session already concluded: {self._summary.outcome.value}")
        if report.outcome is not SessionOutcome.ATTENDED:
            return
        protocol_now = self._input.clock.to_protocol(workflow.now())
        if protocol_now < self._summary.scheduled_at - EARLIEST_ATTENDANCE_REPORT:
            raise ValueError("the session has not started yet")
        assert report.dose_mg is not None  # OutcomeReport guarantees it for an attended session
        if report.dose_mg not in self._input.allowed_doses_mg:
            raise ValueError(
                f"dose {report.dose_mg} mg not allowed now; allowed: {self._input.allowed_doses_mg}"
            )
        if report.devices != devices_for(self._input.dosing, report.dose_mg):
            raise ValueError(
                f"{report.dose_mg} mg is {devices_for(self._input.dosing, report.dose_mg)} devices"
            )

    @workflow.signal
    def cancel(self, request: Cancel) -> None:
        """From the course: pause, discontinue or the end of maintenance."""
        if self._summary.outcome is None:
            self._conclude(SessionOutcome.CANCELLED, reason=request.reason)

    @workflow.signal
    def reschedule(self, request: Reschedule) -> None:
        """From the course, which validated the move."""
        if self._summary.outcome is None:
            self._summary = self._summary.model_copy(update={"scheduled_at": request.new_time})
            self._rescheduled = True

    def _conclude(self, outcome: SessionOutcome, **details: object) -> None:
        self._summary = self._summary.model_copy(update={"outcome": outcome, **details})
