"""`Escalation`: one escalation, from its trigger to its resolution.

It climbs the policy's ladder (on-call nurse, on-call psychiatrist, medical director): each rung
is paged, then waits its delay in real time for an acknowledgement before the next rung is paged,
and the whole ladder runs again for each repeat. An acknowledgement stops the paging (one on
the pager only when it answers the latest page); a resolution, with its note, closes the
escalation; a reassignment pages the named role or person next and the ladder goes on from
there. A repeated trigger only counts: it never pages again.
Every step is recorded (the console's row and the audit log), the pager service hears of
acknowledgements and resolutions, and its owners (the course, and the workflow that raised
it) of every change of status.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from enum import StrEnum

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.paging import EscalationRecords, Paging
    from domain import summaries
    from domain.contract import course_workflow_id
    from domain.escalation import (
        ESCALATION_CHANGED,
        AckChannel,
        Acknowledge,
        EscalationChanged,
        EscalationInput,
        EscalationRecord,
        EscalationState,
        EscalationStatus,
        OnCallRole,
        Page,
        PageAcknowledge,
        PagerAction,
        PageRequest,
        PageResult,
        PagerUpdate,
        Reassign,
        Resolve,
        Retrigger,
    )

from workflows.messages import require_argument, signal_argument
from workflows.waiting import keep_details_current, wait_for

SYSTEM = "system"
"""The actor of the escalation's own steps."""
RECORD_TIMEOUT = timedelta(seconds=30)
PAGE_ATTEMPT_TIMEOUT = timedelta(seconds=30)
PAGE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10))

"""A page is retried briskly, until its rung's time is up."""

PAGE_FIRST = "page-first"
"""Patch: the first page goes out in the escalation's first workflow task, the raised step
recorded and told beside it; escalations raised before it announced first, then paged."""
LOCAL_FIRST_PAGE = "local-first-page"
"""Patch: the first page is a local activity, run by the worker that holds the escalation's
first workflow task (the raised step's record waits for it); before it, it was queued."""


class Step(StrEnum):
    """What an escalation record says happened (`EscalationRecord.step`)."""

    RAISED = "raised"
    PAGED = "paged"
    RETRIGGERED = "retriggered"
    ACKNOWLEDGED = "acknowledged"
    REASSIGNED = "reassigned"
    RESOLVED = "resolved"
    LADDER_EXHAUSTED = "ladder_exhausted"


@workflow.defn(name="Escalation")
class Escalation:
    @workflow.init
    def __init__(self, escalation: EscalationInput) -> None:
        self.trigger = escalation.trigger
        self.policy = escalation.policy
        self.state = EscalationState()
        self._id = workflow.info().workflow_id
        self._step = 0
        """Where the ladder is: rung `step % len(rungs)` of round `step // len(rungs)`."""
        self._reassign: Reassign | None = None
        """A reassignment not paged yet."""
        self._requested = 0
        """The latest page asked for, delivered or still on its way: the only one that may be
        acknowledged on the pager."""
        self._one_at_a_time = asyncio.Lock()
        """Steps reach the record, the pager service and the course one at a time, in order."""

    @workflow.run
    async def run(self, escalation: EscalationInput) -> EscalationState:
        self._log("escalation_raised")
        details = asyncio.create_task(keep_details_current(self._details))
        if workflow.patched(PAGE_FIRST):
            # Page first: the announcement runs beside the first page, not before it (the
            # lock still records the raised step before the paged one).
            announced = asyncio.create_task(self._announce(Step.RAISED, SYSTEM))
        else:
            await self._announce(Step.RAISED, SYSTEM)
            announced = None
        while self.state.status is not EscalationStatus.RESOLVED:
            await self._page_until_answered()
            # Acknowledged: until it is resolved, or reassigned (which opens it again).
            await workflow.wait_condition(
                lambda: self.state.status is not EscalationStatus.ACKNOWLEDGED
            )
        if announced is not None:
            await announced
        await workflow.wait_condition(workflow.all_handlers_finished)
        details.cancel()
        self._log("escalation_resolved")
        return self.state

    # --- The ladder ----------------------------------------------------------------------------

    async def _page_until_answered(self) -> None:
        """Page rung after rung, round after round, until someone acknowledges or resolves;
        once the ladder is exhausted, the escalation stays open for them."""
        rungs = self.policy.rungs
        while self._open():
            reassign, self._reassign = self._reassign, None
            if reassign is not None:
                self._step = self._step_for(reassign)
            elif self._step >= self._steps():
                await self._record_one(
                    Step.LADDER_EXHAUSTED, detail=f"{len(self.state.pages)} pages unacknowledged"
                )
                await wait_for(self._interrupted)
                continue
            rung = rungs[self._step % len(rungs)]
            due = workflow.now() + timedelta(minutes=rung.minutes_before_next)
            if reassign is None:
                role = rung.role
                paged = await self._page(role, None, due)
            else:
                role = reassign.to_role or rung.role
                paged = await self._page(role, reassign.to_staff, due)
            # A page that reached nobody: the next rung at once.
            waits = summaries.rung_wait(role, rung.minutes_before_next)
            if not paged or not await wait_for(
                self._interrupted, within=due - workflow.now(), summary=waits
            ):
                self._step += 1

    async def _page(self, role: OnCallRole, staff_id: str | None, due: datetime) -> bool:
        """Page the role's on-call person (or the named one); False if the page reached nobody
        (nobody on call, or refused on every channel)."""
        attempt = len(self.state.pages) + 1
        # Before the activity: an acknowledgement of the previous page is stale from now on.
        self._requested = attempt
        at = workflow.now()
        request = PageRequest(
            escalation_id=self._id,
            trigger=self.trigger,
            role=role,
            staff_id=staff_id,
            attempt=attempt,
        )
        execute = (
            workflow.execute_local_activity_method
            if attempt == 1 and workflow.patched(LOCAL_FIRST_PAGE)
            else workflow.execute_activity_method
        )
        try:
            result = await execute(
                Paging.page_on_call,
                request,
                start_to_close_timeout=PAGE_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=due - at,
                retry_policy=PAGE_RETRY,
                summary=summaries.paged(role, self._step, len(self.policy.rungs), staff_id),
            )
            if result.staff_id is None:
                outcome = "nobody on call"
            elif result.channel is None:
                outcome = "refused on every channel"
            else:
                outcome = f"via {result.channel}"
        except ActivityError as err:
            # Retried until the rung's time ran out: the ladder must not stall on it.
            result, outcome = PageResult(staff_id=None), "not delivered"
            self._log("page_failed", attempt=attempt, role=role, error=str(err.cause or err))
        self.state.pages.append(
            Page(
                attempt=attempt, role=role, staff_id=result.staff_id, channel=result.channel, at=at
            )
        )
        self._log("page_sent", attempt=attempt, role=role, staff_id=result.staff_id)
        await self._record_one(
            Step.PAGED,
            detail=f"page {attempt} to {role}: {outcome}",
            assigned_to=result.staff_id,
        )
        return result.channel is not None

    def _steps(self) -> int:
        return len(self.policy.rungs) * (1 + self.policy.repeats)

    def _step_for(self, reassign: Reassign) -> int:
        """The reassigned role's rung in the current round, so the ladder goes on from there;
        the current rung when only a person is named or the role is not on the ladder."""
        rungs = self.policy.rungs
        current = min(self._step, self._steps() - 1)
        roles = [rung.role for rung in rungs]
        if reassign.to_role is None or reassign.to_role not in roles:
            return current
        return current - current % len(rungs) + roles.index(reassign.to_role)

    def _open(self) -> bool:
        return self.state.status is EscalationStatus.OPEN

    def _interrupted(self) -> bool:
        return not self._open() or self._reassign is not None

    def _details(self) -> str:
        """Where the escalation stands, for the UI: who is paged, at which rung; never the
        resolution's note."""
        state, trigger = self.state, self.trigger
        lines = [
            f"**Status** {state.status}",
            f"**Condition** {trigger.severity} {trigger.condition} #{trigger.occurrence}"
            + ("" if trigger.session is None else f", session {trigger.session}"),
            f"**Triggers** {state.triggers}",
        ]
        if state.pages:
            page, rungs = state.pages[-1], len(self.policy.rungs)
            whom = page.staff_id or "nobody on call"
            via = f"via {page.channel}" if page.channel else "not delivered"
            lines.append(f"**Paged** {summaries.ROLES[page.role]} {whom} ({via})")
            lines.append(f"**Rung** {min(self._step, self._steps() - 1) % rungs + 1} of {rungs}")
        if state.acknowledged is not None:
            lines.append(f"**Acknowledged by** {state.acknowledged.by} ({state.acknowledged.via})")
        if state.resolved is not None:
            lines.append(f"**Resolved by** {state.resolved.by}")
        return "\n\n".join(lines)

    # --- Messages ------------------------------------------------------------------------------

    @workflow.query
    def details(self) -> EscalationState:
        return self.state

    @workflow.update
    async def acknowledge(self, ack: Acknowledge) -> EscalationState:
        """Stops the paging; the escalation then waits for its resolution."""
        return await self._acknowledge(ack)

    @acknowledge.validator
    def _check_acknowledge(self, ack: Acknowledge) -> None:
        require_argument(ack, Acknowledge)
        if not self._open():
            raise ValueError(f"the escalation is {self.state.status} already")

    @workflow.update
    async def acknowledge_page(self, ack: PageAcknowledge) -> EscalationState:
        """An acknowledgement on the pager of the escalation's latest page: as `acknowledge`."""
        return await self._acknowledge(Acknowledge(by=ack.by, via=AckChannel.PAGER))

    @acknowledge_page.validator
    def _check_acknowledge_page(self, ack: PageAcknowledge) -> None:
        # Validators do not run on replay, so this check changes no history's commands.
        require_argument(ack, PageAcknowledge)
        if ack.escalation_id != self._id:
            raise ValueError(f"the page is {ack.escalation_id}'s, not this escalation's")
        if not self._open():
            raise ValueError(f"the escalation is {self.state.status} already")
        # A reassignment not paged yet makes every page sent so far an older one.
        if ack.page != self._requested or self._reassign is not None:
            raise ValueError(f"page {ack.page} is not the escalation's latest page")

    async def _acknowledge(self, ack: Acknowledge) -> EscalationState:
        self.state.status = EscalationStatus.ACKNOWLEDGED
        self.state.acknowledged, self.state.acknowledged_at = ack, workflow.now()
        self._log("escalation_acknowledged", by=ack.by, via=ack.via)
        await self._announce(
            Step.ACKNOWLEDGED,
            ack.by,
            detail=f"via {ack.via}",
            assigned_to=ack.by,
            pager=PagerAction.ACKNOWLEDGE,
        )
        return self.state

    @workflow.update
    async def resolve(self, resolution: Resolve) -> EscalationState:
        """Closes the escalation (straight from open too: that stops the paging)."""
        self.state.status = EscalationStatus.RESOLVED
        self.state.resolved, self.state.resolved_at = resolution, workflow.now()
        self._log("escalation_resolving", by=resolution.by)
        await self._announce(
            Step.RESOLVED, resolution.by, detail=resolution.note, pager=PagerAction.RESOLVE
        )
        return self.state

    @resolve.validator
    def _check_resolve(self, resolution: Resolve) -> None:
        require_argument(resolution, Resolve)
        self._require_unresolved()

    @workflow.update
    async def reassign(self, reassign: Reassign) -> EscalationState:
        """Pages the named role or person next, and the ladder goes on from there. An
        acknowledged escalation is open again until the new assignee acknowledges."""
        self.state.status = EscalationStatus.OPEN
        self.state.acknowledged = self.state.acknowledged_at = None
        self.state.reassigned = reassign
        self._reassign = reassign
        whom = " ".join(str(to) for to in (reassign.to_role, reassign.to_staff) if to)
        self._log("escalation_reassigned", by=reassign.by, to=whom)
        await self._announce(
            Step.REASSIGNED, reassign.by, detail=f"to {whom}", assigned_to=reassign.to_staff
        )
        return self.state

    @reassign.validator
    def _check_reassign(self, reassign: Reassign) -> None:
        require_argument(reassign, Reassign)
        self._require_unresolved()

    @workflow.signal
    async def retrigger(self, *args: object) -> None:
        """The same condition fired again: it counts, and never pages again. The raising
        trigger itself (from a retried start, or signal-with-start before the start became
        eager) is no repeat."""
        again = signal_argument(Retrigger, args, "retrigger")
        if again is None:
            return
        if (again.at, again.reading_id) == (self.trigger.raised_at, self.trigger.reading_id):
            return
        self.state.triggers += 1
        self._log("escalation_retriggered", triggers=self.state.triggers)
        reading = "" if again.reading_id is None else f", reading {again.reading_id}"
        await self._record_one(Step.RETRIGGERED, detail=f"trigger {self.state.triggers}{reading}")

    def _require_unresolved(self) -> None:
        if self.state.status is EscalationStatus.RESOLVED:
            raise ValueError("the escalation is resolved already")

    # --- Telling others ------------------------------------------------------------------------

    async def _announce(
        self,
        step: Step,
        actor: str,
        *,
        detail: str | None = None,
        assigned_to: str | None = None,
        pager: PagerAction | None = None,
    ) -> None:
        """A change of status: to the record and audit log, the pager service and the course."""
        status = self.state.status
        async with self._one_at_a_time:
            await self._record(step, actor, status, detail, assigned_to)
            if pager is not None:
                await workflow.execute_activity_method(
                    Paging.update_pager,
                    PagerUpdate(escalation_id=self._id, action=pager),
                    start_to_close_timeout=RECORD_TIMEOUT,
                    summary=summaries.pager_told(pager),
                )
            await self._tell_owners(status)

    async def _record_one(
        self, step: Step, *, detail: str | None = None, assigned_to: str | None = None
    ) -> None:
        """One of the escalation's own steps, in its turn."""
        status = self.state.status
        async with self._one_at_a_time:
            await self._record(step, SYSTEM, status, detail, assigned_to)

    async def _record(
        self,
        step: Step,
        actor: str,
        status: EscalationStatus,
        detail: str | None,
        assigned_to: str | None,
    ) -> None:
        await workflow.execute_activity_method(
            EscalationRecords.record_escalation,
            EscalationRecord(
                escalation_id=self._id,
                trigger=self.trigger,
                status=status,
                step=step,
                actor=actor,
                at=workflow.now(),
                detail=detail,
                assigned_to=assigned_to,
            ),
            start_to_close_timeout=RECORD_TIMEOUT,
            summary=summaries.escalation_step(step, None if actor == SYSTEM else actor),
        )

    async def _tell_owners(self, status: EscalationStatus) -> None:
        """The course, and the workflow that raised it (a session, a REMS filing): an owner
        follows its occurrences."""
        trigger = self.trigger
        change = EscalationChanged(
            escalation_id=self._id,
            severity=trigger.severity,
            condition=trigger.condition,
            occurrence=trigger.occurrence,
            session=trigger.session,
            status=status,
            repeats_seen=self.state.triggers - 1,
        )
        course = course_workflow_id(trigger.course_id)
        owners = [workflow.get_external_workflow_handle(course)]
        if trigger.owner_workflow_id not in (None, course):
            owners.append(workflow.get_external_workflow_handle(trigger.owner_workflow_id))
        for owner in owners:
            try:
                await owner.signal(ESCALATION_CHANGED, change)
            except FailureError as err:
                # The owner has ended (or never ran here): the escalation goes on without it.
                self._log("owner_not_told", owner=owner.id, error=str(err))

    def _log(self, message: str, **extra: object) -> None:
        workflow.logger.info(
            message,
            extra={
                "session": self.trigger.session,  # the trigger's: a course's may name one
                "escalation_id": self._id,
                "status": self.state.status,
                **extra,
            },
        )
