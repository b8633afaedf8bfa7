"""The throughput bench's baseline takes a dosing session's shape (`bench.noop_session`): a
no-op played from the shape of a stored session's history, from its check-in, schedules as many
activities and local activities and takes as many inputs as that session did."""

from __future__ import annotations

import uuid

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from bench.noop_session import (
        FOLLOW_ON_TASKS,
        Kind,
        NoOpSession,
        Shape,
        Step,
        noop,
        shape_of,
    )
    from bench.session_throughput import Counts, check_in_index, counts
    from tests.histories.files import ROOT, load

SESSION = ROOT / "responder" / "course-replay-responder-session-3--run-01.json"


async def test_a_no_op_takes_the_shape_of_a_recorded_session(client: Client) -> None:
    events = list(load(SESSION).events)
    since_check_in = events[check_in_index(events) :]
    shape = shape_of(events, check_in_index(events))
    session = counts(since_check_in)
    assert session.activities > 0 and session.local_activities > 0 and session.inputs > 1

    queue = f"no-op-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[NoOpSession], activities=[noop]):
        handle = await client.start_workflow(NoOpSession.run, shape, id=queue, task_queue=queue)
        for sent in shape.inputs:  # all at once: the counts do not depend on the pacing
            if sent.update:
                await handle.execute_update(NoOpSession.updated)
            else:
                await handle.signal(NoOpSession.signalled)
        await handle.result()
    no_op = counts([event async for event in handle.fetch_history_events()])

    assert (no_op.activities, no_op.local_activities, no_op.inputs) == (
        session.activities,
        session.local_activities,
        session.inputs,
    )
    fired = sum(1 for step in shape.steps if step.kind is Kind.TIMER)
    assert no_op.timers >= fired


async def test_a_footprint_adds_follow_on_workflows_with_its_activities_and_tasks(
    client: Client,
) -> None:
    """The padding is played by follow-on workflows: every activity of it, and about its
    workflow tasks (each follow-on brings `FOLLOW_ON_TASKS`, its parent's included)."""
    shape = Shape(steps=[Step(kind=Kind.ACTIVITY)], inputs=[])
    footprint = shape.with_footprint(activities=4, workflow_tasks=11)
    queue = f"no-op-{uuid.uuid4()}"
    played: list[Counts] = []
    async with Worker(client, task_queue=queue, workflows=[NoOpSession], activities=[noop]):
        for each in (shape, footprint):
            workflow_id = f"{queue}-{len(played)}"
            handle = await client.start_workflow(
                NoOpSession.run, each, id=workflow_id, task_queue=queue
            )
            await handle.result()
            follow_ons = [s for s in each.steps if s.kind is Kind.FOLLOW_ON]
            ids = [workflow_id, *(f"{workflow_id}-follow-on-{n}" for n in range(len(follow_ons)))]
            for follow_on in ids[1:]:  # they run on after their parent
                await client.get_workflow_handle(follow_on).result()
            events = [
                event
                for run in ids
                async for event in client.get_workflow_handle(run).fetch_history_events()
            ]
            played.append(counts(events))
    own, padded = played

    assert padded.activities - own.activities == 4
    assert abs(padded.workflow_tasks - own.workflow_tasks - 11) <= FOLLOW_ON_TASKS
