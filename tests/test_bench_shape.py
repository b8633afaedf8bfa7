"""The throughput bench's baseline takes a dosing session's shape (`bench.noop_session`): a
no-op played from the shape of a stored session's history, from its check-in, schedules as many
activities and local activities and takes as many inputs as that session did."""

from __future__ import annotations

import uuid

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from bench.noop_session import Kind, NoOpSession, Shape, Step, noop, shape_of
    from bench.session_throughput import check_in_index, counts
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


async def test_a_footprint_pads_a_shape_with_activities_and_workflow_tasks(
    client: Client,
) -> None:
    shape = Shape(steps=[Step(kind=Kind.ACTIVITY)], inputs=[])
    queue = f"no-op-{uuid.uuid4()}"
    played = []
    async with Worker(client, task_queue=queue, workflows=[NoOpSession], activities=[noop]):
        for n, each in enumerate([shape, shape.with_footprint(activities=2, workflow_tasks=5)]):
            handle = await client.start_workflow(
                NoOpSession.run, each, id=f"{queue}-{n}", task_queue=queue
            )
            await handle.result()
            played.append(counts([event async for event in handle.fetch_history_events()]))
    own, padded = played

    assert padded.activities - own.activities == 2
    assert padded.workflow_tasks - own.workflow_tasks == 5
