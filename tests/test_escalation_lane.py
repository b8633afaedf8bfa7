"""Escalations run on a lane of their own (`trd-escalations`): a page goes out with no course
worker running at all, so a backlog of routine work on `trd-courses` cannot hold it back; and
the page is the escalation's first command, before any bookkeeping."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from activities.alerts import Alerts
from domain.conditions import Condition
from domain.contract import ESCALATION_TASK_QUEUE
from domain.escalation import Severity, escalation_workflow_id
from domain.records import Alert, AlertOutcome
from store import patients
from store.escalations import pager_pages
from tests.activity_runs import registration, run
from tests.escalations import nurse_on_call
from worker.main import build_worker

POLLS = 200


async def test_a_page_goes_out_on_the_escalations_lane_alone(
    client: Client, db_pool: asyncpg.Pool
) -> None:
    course = registration().model_copy(update={"clinic_id": f"lane-{uuid.uuid4().hex[:8]}"})
    await patients.register(db_pool, course)
    await nurse_on_call(db_pool, course.clinic_id, f"nurse-{uuid.uuid4().hex[:8]}")
    alert = Alert(
        dedup_key=f"course-{course.course_id}-session-1/spo2_low/1",
        course_id=course.course_id,
        session=1,
        severity=Severity.CRITICAL,
        condition=Condition.SPO2_LOW,
        summary="SpO2 below the critical limit",
    )
    escalations_lane = build_worker(client, db_pool).lanes[1]  # no courses' lane

    async with escalations_lane:
        assert await run(Alerts(db_pool, client).raise_alert, alert) is AlertOutcome.OPENED
        workflow_id = escalation_workflow_id(alert.dedup_key)
        for _ in range(POLLS):
            if pages := await pager_pages(db_pool, workflow_id):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"{workflow_id} paged nobody on its own lane")

    assert pages[0].escalation_id == workflow_id
    handle = client.get_workflow_handle(workflow_id)
    events = [event async for event in handle.fetch_history_events()]
    scheduled = [
        (event.activity_task_scheduled_event_attributes, tasks_done)
        for tasks_done, event in _with_tasks_done(events)
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    description = await handle.describe()
    assert description.task_queue == ESCALATION_TASK_QUEUE
    assert {attributes.task_queue.name for attributes, _ in scheduled} == {ESCALATION_TASK_QUEUE}
    # Page first: the page is the first thing the escalation does, in its first workflow task,
    # with the raised step recorded beside it rather than before it.
    first, second = scheduled[0], scheduled[1]
    assert (first[0].activity_type.name, first[1]) == ("page_on_call", 1)
    assert (second[0].activity_type.name, second[1]) == ("record_escalation", 1)
    await handle.terminate("test over")


def _with_tasks_done(events: list[HistoryEvent]) -> list[tuple[int, HistoryEvent]]:
    """Each event with the number of workflow tasks completed before it (its task's number)."""
    done, numbered = 0, []
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            done += 1
        numbered.append((done, event))
    return numbered
