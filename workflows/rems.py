"""`RemsFiling`: one dosed session's REMS Patient Monitoring Form, until the portal has it.

Started by its session at discharge, so that a portal outage never holds up the course (S9).
The form is submitted, and retried through outages; while it is not in, a routine alert goes
out at day 5 and an urgent one on its due day (7 days after the session); a refusal alerts.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.rems import RemsForms
    from domain import summaries
    from domain.conditions import Condition
    from domain.contract import rems_filing_workflow_id
    from domain.escalation import ESCALATION_CHANGED, EscalationChanged, Severity
    from domain.occurrences import Occurrences
    from domain.records import (
        RemsFilingInput,
        RemsFormRequest,
        RemsSubmission,
        RemsSubmissionStatus,
    )

from workflows.alerting import AlertOwner, raise_alert
from workflows.messages import signal_argument
from workflows.waiting import wait_for

SUBMIT_TIMEOUT = timedelta(minutes=2)
PORTAL_RETRY = RetryPolicy(maximum_interval=timedelta(hours=1))
"""A portal outage is retried until the form is in, at most an hour apart."""


@workflow.defn(name="RemsFiling")
class RemsFiling:
    @workflow.init
    def __init__(self, filing: RemsFilingInput) -> None:
        self._filing = filing
        self.escalations = Occurrences()
        self._owner = AlertOwner(
            workflow_id=rems_filing_workflow_id(filing.course_id, filing.session),
            course_id=filing.course_id,
            session=filing.session,
            policies=filing.escalation,
            label=f"Session {filing.session}",
        )

    @workflow.run
    async def run(self, filing: RemsFilingInput) -> RemsSubmission:
        rules = filing.rules
        due = filing.scheduled_at + timedelta(days=rules.rems_form_due_days)
        submitting = asyncio.create_task(
            workflow.execute_activity_method(
                RemsForms.submit_rems_form,
                RemsFormRequest(course_id=filing.course_id, session=filing.session, due_at=due),
                start_to_close_timeout=SUBMIT_TIMEOUT,
                retry_policy=PORTAL_RETRY,
                summary=summaries.REMS_SUBMIT,
            )
        )
        late = filing.scheduled_at + timedelta(days=rules.rems_form_reminder_days)
        if not await wait_for(
            submitting.done,
            within=self._until(late),
            summary=summaries.rems_form_wait(rules.rems_form_reminder_days),
        ):
            await self._alert(Condition.REMS_FORM_DUE, Severity.ROUTINE, "REMS form not filed yet")
        if not await wait_for(
            submitting.done,
            within=self._until(due),
            summary=summaries.rems_form_wait(rules.rems_form_due_days),
        ):
            await self._alert(
                Condition.REMS_FORM_OVERDUE, Severity.URGENT, "REMS form past its due day"
            )
        submission: RemsSubmission = await submitting
        if submission.status is RemsSubmissionStatus.FAILED:
            # The portal's reason stays with the form's record: a page carries no free text.
            await self._alert(
                Condition.REMS_FORM_REFUSED, Severity.URGENT, "REMS portal refused the form"
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return submission

    def _until(self, protocol_time: datetime) -> timedelta:
        """Real time left until then; a filing that starts late (after a long outage of the
        worker, or on a compressed clock) still gives its first attempt time to succeed."""
        left = self._filing.clock.real_delay_until(protocol_time, workflow.now())
        return max(left, SUBMIT_TIMEOUT)

    async def _alert(self, condition: Condition, severity: Severity, detail: str) -> None:
        alert = self.escalations.trigger(condition, severity, detail)
        await raise_alert(self._owner, alert, self.escalations, phase=self._filing.phase)

    @workflow.signal(name=ESCALATION_CHANGED)
    async def escalation_changed(self, *args: object) -> None:
        """From this filing's escalations: a condition raised again after its resolution is
        the next occurrence."""
        change = signal_argument(EscalationChanged, args, ESCALATION_CHANGED)
        if change is not None:
            again = self.escalations.changed(change, "the same condition, again")
            await raise_alert(self._owner, again, self.escalations, phase=self._filing.phase)
