"""Raising an alert: recorded once per dedup key, and its escalation opened or joined."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.contract import CLINIC_ID, ESCALATION_TASK_QUEUE
from domain.escalation import (
    EscalationInput,
    EscalationPolicies,
    Retrigger,
    Trigger,
    escalation_workflow_id,
)
from domain.records import Alert, AlertOutcome
from store import alerts, patients
from workflows.escalation import Escalation

log = structlog.get_logger(__name__)

UNREGISTERED_CLINIC = "unregistered"
"""The clinic of a course with no clinical record (started before it existed)."""


class Alerts:
    def __init__(self, pool: asyncpg.Pool, client: Client) -> None:
        self._pool = pool
        self._client = client

    @activity.defn(name="raise_alert")
    async def raise_alert(self, alert: Alert) -> AlertOutcome:
        """Start the occurrence's escalation, or signal it if it is open, so a repeat never
        pages twice. The start is eager: this process's escalations lane runs its first
        workflow task straight from the answer, with no trip through the task queue. Its id is
        never reused: an occurrence whose escalation has ended answers RESOLVED_ALREADY, and
        the owner raises the next occurrence."""
        trigger = await self._trigger(alert)
        escalation_id = escalation_workflow_id(alert.dedup_key)
        raised = log.bind(
            severity=alert.severity,
            condition=alert.condition,
            dedup_key=alert.dedup_key,
            escalation_id=escalation_id,
        )
        try:
            await self._client.start_workflow(
                Escalation.run,
                EscalationInput(
                    trigger=trigger,
                    policy=alert.policy or EscalationPolicies().for_severity(alert.severity),
                ),
                id=escalation_id,
                task_queue=ESCALATION_TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                request_eager_start=True,
                static_summary=f"{alert.severity} {alert.condition} (course {alert.course_id})",
                # The UI lists one clinic's escalations as it lists its courses.
                search_attributes=TypedSearchAttributes(
                    [SearchAttributePair(CLINIC_ID, trigger.clinic_id)]
                ),
            )
            ended = False
        except WorkflowAlreadyStartedError:
            ended = await self._join(
                escalation_id, Retrigger(reading_id=alert.reading_id, at=trigger.raised_at)
            )
        # Recorded once the escalation is under way, so its first page never waits for it; a
        # retry after a crash in between records it then.
        created = await alerts.open_alert(self._pool, alert)
        if ended:
            raised.warning("alert_repeated_after_escalation_ended")
            return AlertOutcome.RESOLVED_ALREADY
        # A repeat is no news: the escalation records it as a retrigger step.
        if created:
            raised.warning("alert_raised")
        else:
            raised.info("alert_repeated_joined_open_escalation")
        return AlertOutcome.OPENED if created else AlertOutcome.JOINED

    async def _join(self, escalation_id: str, again: Retrigger) -> bool:
        """Signal the open escalation that its condition fired again (its own start retried:
        no repeat at all); True if it has ended."""
        try:
            await self._client.get_workflow_handle(escalation_id).signal("retrigger", again)
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
            return True
        return False

    async def _trigger(self, alert: Alert) -> Trigger:
        course = await patients.course(self._pool, alert.course_id)
        return Trigger(
            dedup_key=alert.dedup_key,
            course_id=alert.course_id,
            clinic_id=UNREGISTERED_CLINIC if course is None else course.clinic_id,
            session=alert.session,
            phase=alert.phase,
            severity=alert.severity,
            condition=alert.condition,
            occurrence=alert.occurrence,
            owner_workflow_id=alert.owner_workflow_id,
            summary=alert.summary,
            reading_id=alert.reading_id,
            # The same on every attempt: a retried start's signal is no repeat.
            raised_at=alert.raised_at or activity.info().scheduled_time,
        )
