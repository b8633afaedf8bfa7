"""The throughput bench's baseline: a workflow that does nothing but take a dosing session's
shape: its activities, local activities, timers and inputs, in the same order. Its workflow
tasks follow from those (a no-op may take in one task what the session took in two): the bench
prints both counts.

A `Shape` is read from a real session's history, from its check-in to its end (`shape_of`):
each activity becomes a no-op activity, each timer that fired a sleep of its length, and each
signal or Update an input the workflow waits for (with the timeout of the wait it ended, so its
timer is started and cancelled too). The bench sends the inputs at the times the real session
got them when it ran alone. `Shape.with_footprint` adds follow-on workflows with the activities
and workflow tasks that the session set off in other workflows, as the dev server counted them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.workflow import ParentClosePolicy

TASK_QUEUE = "bench-noop"
LOCAL_ACTIVITY_MARKER = "core_local_activity"
"""sdk-core's marker for a local activity's result (a `workflow.patched` leaves another)."""
ACTIVITY_TIMEOUT = timedelta(seconds=30)
FOLLOW_ON_TASKS = 2


class Kind(StrEnum):
    ACTIVITY = "activity"
    LOCAL_ACTIVITY = "local_activity"
    TIMER = "timer"
    INPUT = "input"
    FOLLOW_ON = "follow_on"


class Step(BaseModel):
    kind: Kind
    seconds: float = 0.0
    """A timer's length; for an input, the timeout of the wait it ended (0: no wait)."""
    activities: int = 0
    """A follow-on's no-op activities."""


class Input(BaseModel):
    update: bool
    """An Update (the bench waits for its answer), else a signal."""
    after_s: float
    """When the real session got it, from its check-in."""


class Shape(BaseModel):
    steps: list[Step]
    inputs: list[Input]

    def with_footprint(self, activities: int, workflow_tasks: int) -> Shape:
        """This shape, then follow-on workflows (children started one by one at its end, and
        left to run on) that share `activities` more no-op activities, as many as make about
        `workflow_tasks` more workflow tasks: each brings `FOLLOW_ON_TASKS` (its own first and
        its parent's, which sees it started) and one per activity. They stand for the work a
        session sets off in other workflows, such as its REMS filing and its course starting
        the next session."""
        count = max(1 if activities else 0, round((workflow_tasks - activities) / FOLLOW_ON_TASKS))
        shares = [activities // count + (n < activities % count) for n in range(count)]
        follow_ons = [Step(kind=Kind.FOLLOW_ON, activities=share) for share in shares]
        return Shape(steps=[*self.steps, *follow_ons], inputs=self.inputs)


@activity.defn
async def noop() -> None:
    """Does nothing: only the round trip is measured."""


@workflow.defn
class NoOpSession:
    """Plays a `Shape` and nothing else."""

    def __init__(self) -> None:
        self._inputs = 0

    @workflow.run
    async def run(self, shape: Shape) -> None:
        awaited = 0
        for step in shape.steps:
            if step.kind is Kind.FOLLOW_ON:
                continue
            if step.kind is Kind.ACTIVITY:
                await workflow.execute_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
            elif step.kind is Kind.LOCAL_ACTIVITY:
                await workflow.execute_local_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
            elif step.kind is Kind.TIMER:
                await workflow.sleep(step.seconds)
            else:
                awaited += 1
                await workflow.wait_condition(self._received(awaited), timeout=step.seconds or None)
        follow_ons = [step for step in shape.steps if step.kind is Kind.FOLLOW_ON]
        # Started one by one, each start a workflow task of the parent's; not awaited: a
        # session ends at its discharge, and its follow-ons run on.
        for number, step in enumerate(follow_ons):
            await workflow.start_child_workflow(
                NoOpSession.run,
                Shape(steps=[Step(kind=Kind.ACTIVITY)] * step.activities, inputs=[]),
                id=f"{workflow.info().workflow_id}-follow-on-{number}",
                parent_close_policy=ParentClosePolicy.ABANDON,
            )

    def _received(self, count: int) -> Callable[[], bool]:
        return lambda: self._inputs >= count

    @workflow.signal
    def signalled(self) -> None:
        self._inputs += 1

    @workflow.update
    def updated(self) -> None:
        self._inputs += 1


def is_local_activity(event: HistoryEvent) -> bool:
    return (
        event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
    )


def shape_of(events: Sequence[HistoryEvent], start: int) -> Shape:
    """The shape of a session's history from the event at index `start` (its check-in)."""
    fired = {
        e.timer_fired_event_attributes.timer_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED
    }
    steps: list[Step] = []
    inputs: list[Input] = []
    waiting_s = 0.0  # the timeout of a wait still open: the next input ends it
    opened = events[start].event_time.ToDatetime()
    for event in events[start:]:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            steps.append(Step(kind=Kind.ACTIVITY))
        elif is_local_activity(event):
            steps.append(Step(kind=Kind.LOCAL_ACTIVITY))
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            attributes = event.timer_started_event_attributes
            seconds = attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
            if attributes.timer_id in fired:
                steps.append(Step(kind=Kind.TIMER, seconds=seconds))
            else:
                waiting_s = seconds
        elif kind in (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        ):
            steps.append(Step(kind=Kind.INPUT, seconds=waiting_s))
            waiting_s = 0.0
            after = event.event_time.ToDatetime() - opened
            update = kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            inputs.append(Input(update=update, after_s=after.total_seconds()))
    return Shape(steps=steps, inputs=inputs)
