"""Escalations run on a lane of their own (`trd-escalations`): a page goes out with no course
worker running at all, so a backlog of routine work on `trd-courses` cannot hold it back; and
the page is the escalation's first command, a local activity, before any bookkeeping."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle

from activities.alerts import Alerts
from domain.conditions import Condition
from domain.contract import ESCALATION_TASK_QUEUE
from domain.escalation import Severity, escalation_workflow_id
from domain.records import Alert, AlertOutcome
from store import patients
from store.db import APP_ROLE, create_pool
from store.escalations import pager_pages
from tests.activity_runs import registration, run
from tests.escalations import nurse_on_call
from tests.sessions import eventually
from worker.main import escalations_lane

POLLS = 200
MARKER = EventType.EVENT_TYPE_MARKER_RECORDED
RECORD = "record_escalation"
LOCAL_ACTIVITY_MARKER = "core_local_activity"
"""The SDK's marker for a local activity's result."""


def spo2_alert(course_id: str) -> Alert:
    return Alert(
        dedup_key=f"course-{course_id}-session-1/spo2_low/1",
        course_id=course_id,
        session=1,
        severity=Severity.CRITICAL,
        condition=Condition.SPO2_LOW,
        summary="SpO2 below the critical limit",
    )


async def test_a_page_goes_out_on_the_escalations_lane_alone(
    client: Client, db_pool: asyncpg.Pool
) -> None:
    course = registration().model_copy(update={"clinic_id": f"lane-{uuid.uuid4().hex[:8]}"})
    await patients.register(db_pool, course)
    await nurse_on_call(db_pool, course.clinic_id, f"nurse-{uuid.uuid4().hex[:8]}")
    alert = spo2_alert(course.course_id)
    async with escalations_lane(client, db_pool):  # no courses' lane
        assert await run(Alerts(db_pool, client).raise_alert, alert) is AlertOutcome.OPENED
        workflow_id = escalation_workflow_id(alert.dedup_key)
        for _ in range(POLLS):
            [(paged, recorded)] = await db_pool.fetch(
                """
                SELECT (SELECT sent_at FROM notification_outbox WHERE effect_key = $2),
                       (SELECT at FROM audit_log WHERE action = 'escalation.raised'
                          AND details->>'escalation_id' = $1)
                """,
                workflow_id,
                f"{workflow_id}/page-1",
            )
            if paged is not None and recorded is not None:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{workflow_id} paged nobody on its own lane, or recorded nothing")

    [page] = await pager_pages(db_pool, workflow_id)
    assert page.escalation_id == workflow_id
    assert paged < recorded
    handle = client.get_workflow_handle(workflow_id)
    events = [event async for event in handle.fetch_history_events()]
    commands = [
        (tasks_done, event)
        for tasks_done, event in _with_tasks_done(events)
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        or event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
    ]
    description = await handle.describe()
    assert description.task_queue == ESCALATION_TASK_QUEUE
    assert {
        event.activity_task_scheduled_event_attributes.task_queue.name
        for _, event in commands
        if event.event_type != MARKER
    } == {ESCALATION_TASK_QUEUE}
    # Page first: a local activity in the escalation's first workflow task, which also
    # schedules the raised step's record; that record runs only once the page is sent.
    [(page_task, _)] = [c for c in commands if c[1].event_type == MARKER]
    recorded = [
        task
        for task, event in commands
        if event.event_type != MARKER
        and event.activity_task_scheduled_event_attributes.activity_type.name == RECORD
    ]
    assert (page_task, recorded[0]) == (1, 1)
    await handle.terminate("test over")


async def test_the_page_goes_out_while_the_escalations_records_fail_and_are_retried(
    client: Client, db_pool: asyncpg.Pool, postgres_url: str
) -> None:
    """The worker acts as the application's role, which is refused the escalations table for a
    while: the records fail and are retried, the page has gone out meanwhile, once."""
    course = registration().model_copy(update={"clinic_id": f"lane-{uuid.uuid4().hex[:8]}"})
    await patients.register(db_pool, course)
    await nurse_on_call(db_pool, course.clinic_id, f"nurse-{uuid.uuid4().hex[:8]}")
    alert = spo2_alert(course.course_id)
    workflow_id = escalation_workflow_id(alert.dedup_key)
    app_pool = await create_pool(postgres_url, APP_ROLE)
    await db_pool.execute(f"REVOKE INSERT, UPDATE ON escalations FROM {APP_ROLE}")
    try:
        async with escalations_lane(client, app_pool):
            await run(Alerts(db_pool, client).raise_alert, alert)
            handle = client.get_workflow_handle(workflow_id)
            await eventually(lambda: record_retried(handle))
            [page] = await pager_pages(db_pool, workflow_id)
            assert await escalation_row(db_pool, workflow_id) is None
            await db_pool.execute(f"GRANT INSERT, UPDATE ON escalations TO {APP_ROLE}")
            await eventually(lambda: escalation_row(db_pool, workflow_id))
            assert await pager_pages(db_pool, workflow_id) == [page]
            await handle.terminate("test over")
    finally:
        await db_pool.execute(f"GRANT INSERT, UPDATE ON escalations TO {APP_ROLE}")
        await app_pool.close()


async def record_retried(handle: WorkflowHandle[object, object]) -> bool | None:
    """True once the escalation's record has failed at least once and is being retried."""
    pending = (await handle.describe()).raw_description.pending_activities
    attempts = [p.attempt for p in pending if p.activity_type.name == RECORD]
    return True if attempts and max(attempts) > 1 else None


async def escalation_row(pool: asyncpg.Pool, escalation_id: str) -> bool | None:
    found = await pool.fetchval("SELECT 1 FROM escalations WHERE escalation_id = $1", escalation_id)
    return True if found else None


def _with_tasks_done(events: list[HistoryEvent]) -> list[tuple[int, HistoryEvent]]:
    """Each event with the number of workflow tasks completed before it (its task's number)."""
    done, numbered = 0, []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            done += 1
        numbered.append((done, event))
    return numbered
