"""A session's preparations stop once they are called off, even when their step's activity
completes in the same workflow task as the message that calls them off (patch
`preparations-called-off`).

The SDK runs a workflow task's signals and Updates before its activity results. A session
moved while its ride request was in flight cancelled its preparations first; the request's
result then arrived and swallowed the cancellation, so the old preparations went on: they
reminded the patient of the old slot and slept until its ride check before the new slot's began.
A check-in met the same race, and the room waited for the old preparations.

The race is built, not waited for: the session runs on a task queue of its own, with the
project's workflows and activities in separate workers, stopped and started so that the ride
request's completion and the move land in one workflow task.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cli.localstack import quiet
from domain.clock import CourseClock
from domain.contract import session_workflow_id
from domain.course import Reschedule
from domain.protocol import DosingRules
from domain.session import Cancel, SessionInput, SessionSummary
from domain.texts import reminder_text
from tests.activity_runs import CLINIC_TIMEZONE
from tests.sessions import course_in_record, discontinue, eventually, sleep_until, start_course
from worker.main import Workers, activities
from worker.runner import GuardedRunner
from workflows.session import DosingSession

SessionHandle = WorkflowHandle[DosingSession, SessionSummary]


def workflows_only(client: Client, pool: asyncpg.Pool, queue: str) -> Worker:
    """The session's workflow tasks (and its local activities), no activity task. It caches
    no run, so that no task is left on the sticky queue of a worker that has stopped."""
    return Worker(
        client,
        task_queue=queue,
        workflows=[DosingSession],
        max_cached_workflows=0,
        activities=activities(client, pool),
        no_remote_activities=True,
        workflow_runner=GuardedRunner(client.data_converter),
    )


def activities_only(client: Client, pool: asyncpg.Pool, queue: str) -> Worker:
    return Worker(client, task_queue=queue, activities=activities(client, pool))


async def until_event(handle: SessionHandle, kind: EventType.ValueType, after: int) -> int:
    """The id of the first event of that kind after event `after`, once there is one."""

    async def found() -> int | None:
        async for event in handle.fetch_history_events():
            if event.event_id > after and event.event_type == kind:
                return event.event_id
        return None

    return await eventually(found)


async def last_event(handle: SessionHandle) -> int:
    return [event.event_id async for event in handle.fetch_history_events()][-1]


async def reminder_bodies(pool: asyncpg.Pool, course_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT body FROM notification_outbox WHERE course_id = $1 AND kind LIKE 'reminder_%'",
        course_id,
    )
    return [row["body"] for row in rows]


async def test_a_session_moved_as_its_ride_request_completes_reminds_only_of_the_new_slot(
    worker: Workers,
    api: httpx.AsyncClient,
    env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
) -> None:
    """`worker` runs the course that registers the patient; the session runs on its own."""
    client = env.client
    queue = f"preparations-{uuid.uuid4()}"
    course_id = await start_course(api, "preparations")  # registers the patient, never assessed
    await course_in_record(db_pool, course_id)
    now = await env.get_current_time()
    old_slot = (now + timedelta(days=4)).replace(microsecond=0)
    new_slot = old_slot + timedelta(days=3)
    session = SessionInput(
        course_id=course_id,
        number=1,
        phase="induction",
        scheduled_at=old_slot,
        clock=CourseClock(anchor=now),
        dosing=DosingRules(),
        allowed_doses_mg=(56,),
        outcome_grace_hours=12,
        clinic_timezone=CLINIC_TIMEZONE,
    )
    first_contact = old_slot - timedelta(hours=max(session.rules.reminder_hours_before))

    async with activities_only(client, db_pool, queue), workflows_only(client, db_pool, queue):
        handle: SessionHandle = await client.start_workflow(
            DosingSession.run,
            session,
            id=session_workflow_id(course_id, 1),
            task_queue=queue,
        )
        await quiet(client, handle.id)  # waiting for first contact
    waiting = await last_event(handle)
    # No activity worker: the ride is requested at first contact and stays in flight.
    async with workflows_only(client, db_pool, queue):
        await sleep_until(env, first_contact + timedelta(seconds=1))
        requested = await until_event(
            handle, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, after=waiting
        )
    # No workflow worker: the move and the request's completion wait for the same task.
    move = Reschedule(
        session=1, new_time=new_slot, requested_by="dr-test", reason="clinic closed that day"
    )
    await handle.signal(DosingSession.reschedule, move)
    async with activities_only(client, db_pool, queue):
        completed = await until_event(
            handle, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, after=requested
        )
        async with workflows_only(client, db_pool, queue):
            await quiet(client, handle.id)
            events = [event async for event in handle.fetch_history_events()]
            moved = next(
                e.event_id
                for e in events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
            )
            tasks_between = [
                e.event_id
                for e in events
                if min(moved, completed) < e.event_id < max(moved, completed)
                and e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
            ]
            assert tasks_between == [], "the race was not built: two workflow tasks"

            await sleep_until(env, new_slot - timedelta(hours=3))
            bodies = await reminder_bodies(db_pool, course_id)

            # The course first: once nothing else waits, the test server skips to its deadline.
            await discontinue(client, course_id)
            await quiet(client, handle.id)
            await handle.signal(DosingSession.cancel, Cancel(reason="test over"))
            await handle.result()

    # Both reminders went out, each naming the new slot; none named the old one.
    assert sorted(bodies) == [reminder_text(new_slot, CLINIC_TIMEZONE)] * 2
