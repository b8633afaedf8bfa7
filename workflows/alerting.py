"""Raising an occurrence's escalation from the workflow that owns it (a session, a course)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.alerts import Alerts
    from domain import summaries
    from domain.escalation import (
        EscalationChanged,
        EscalationPolicies,
        EscalationStatus,
        escalation_workflow_id,
    )
    from domain.occurrences import Occurrences, RaiseAlert
    from domain.records import Alert, AlertOutcome

RAISE_TIMEOUT = timedelta(seconds=30)
LOCAL_RAISE = "local-raise"
"""Patch: the alert is raised by a local activity, inside the workflow task that judged the
condition, instead of waiting its turn on the owner's task queue behind routine work."""


@dataclass(frozen=True)
class AlertOwner:
    workflow_id: str
    course_id: str
    session: int | None
    policies: EscalationPolicies
    label: str
    """What the page calls the owner ("Session 3"); never PHI."""


async def raise_alert(
    owner: AlertOwner,
    alert: RaiseAlert | None,
    occurrences: Occurrences,
    *,
    phase: str,
    cancellation_type: ActivityCancellationType = ActivityCancellationType.TRY_CANCEL,
) -> None:
    """Open or join the occurrence's escalation. One that has ended already (resolved while the
    repeat was on its way) makes the repeat the next occurrence, which pages anew (S2)."""
    while alert is not None:
        key = alert.dedup_key(owner.workflow_id)
        raising = Alert(
            dedup_key=key,
            course_id=owner.course_id,
            session=owner.session,
            phase=phase,
            severity=alert.severity,
            condition=alert.condition,
            occurrence=alert.occurrence,
            owner_workflow_id=owner.workflow_id,
            summary=f"{owner.label}: {alert.detail}",
            reading_id=alert.reading_id,
            policy=owner.policies.for_severity(alert.severity),
        )
        summary = summaries.alert_raised(
            alert.severity, alert.condition, alert.occurrence, alert.detail
        )
        if workflow.patched(LOCAL_RAISE):
            outcome = await workflow.execute_local_activity_method(
                Alerts.raise_alert,
                raising.model_copy(update={"raised_at": workflow.now()}),
                start_to_close_timeout=RAISE_TIMEOUT,
                cancellation_type=cancellation_type,
                summary=summary,
            )
        else:
            outcome = await workflow.execute_activity_method(
                Alerts.raise_alert,
                raising,
                start_to_close_timeout=RAISE_TIMEOUT,
                cancellation_type=cancellation_type,
                summary=summary,
            )
        if outcome is not AlertOutcome.RESOLVED_ALREADY:
            return
        ended = EscalationChanged(
            escalation_id=escalation_workflow_id(key),
            severity=alert.severity,
            condition=alert.condition,
            occurrence=alert.occurrence,
            session=owner.session,
            status=EscalationStatus.RESOLVED,
        )
        alert = occurrences.changed(ended, alert.detail)
