"""No message can wedge a workflow: bad signals are dropped, bad Updates refused with a reason.

Each is sent straight to Temporal, as a service that skips the HTTP API could; afterwards the
workflow still takes good messages and its history holds no failed workflow task.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import SignalWorkflowExecutionRequest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cli.localstack import quiet
from domain.conditions import Condition
from domain.contract import course_workflow_id
from domain.escalation import EscalationChanged, EscalationStatus, Severity
from domain.session import Stage
from tests.sessions import InRoom, course_status, skip_to_check_in
from workflows.course import TreatmentCourse
from workflows.session import DosingSession

pytestmark = pytest.mark.usefixtures("worker")

BAD_ARGUMENTS: list[list[Any]] = [[None], [{"reading_id": "not a number"}], [{}, {}], []]
"""`null`, the wrong shape, two arguments, none."""


async def sealed_garbage(env: WorkflowEnvironment, workflow_id: str, signal: str) -> None:
    """A signal whose payload claims encryption but decrypts under no key."""
    forged = Payload(
        metadata={"encoding": b"binary/encrypted", "encryption-key-id": b"forged"},
        data=b"\x00" * 40,
    )
    await env.client.workflow_service.signal_workflow_execution(
        SignalWorkflowExecutionRequest(
            namespace=env.client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            signal_name=signal,
            input=Payloads(payloads=[forged]),
            identity="forger",
        )
    )


async def failed_tasks(env: WorkflowEnvironment, workflow_id: str) -> int:
    await quiet(env.client, workflow_id)
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events)


async def test_bad_signals_to_a_session_are_dropped_and_it_goes_on(room: InRoom) -> None:
    env, workflow_id = room.env, room.session.workflow_id
    session = env.client.get_workflow_handle(workflow_id)
    for args in BAD_ARGUMENTS:
        await session.signal("reading_arrived", args=args)
    await session.signal("cancel", None)
    await session.signal("reschedule", args=[{"session": 1}])
    await sealed_garbage(env, workflow_id, "reading_arrived")

    assert (await room.details()).readings == []
    await skip_to_check_in(env, room.session)
    assert (await room.act("check-in")).stage is Stage.PRE_DOSE_VITALS
    assert await failed_tasks(env, workflow_id) == 0


async def test_a_null_update_is_refused_with_a_reason(room: InRoom) -> None:
    session = room.env.client.get_workflow_handle(room.session.workflow_id)
    await skip_to_check_in(room.env, room.session)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await session.execute_update(DosingSession.check_in, None)  # type: ignore[arg-type]

    assert "expected a CheckIn object" in str(refused.value.cause)
    assert (await room.act("check-in")).stage is Stage.PRE_DOSE_VITALS
    assert await failed_tasks(room.env, room.session.workflow_id) == 0


async def test_a_course_takes_escalation_news_only_about_its_own_escalations(
    room: InRoom,
) -> None:
    env, course = room.env, course_workflow_id(room.course_id)
    handle = env.client.get_workflow_handle(course)

    def news(escalation_id: str) -> EscalationChanged:
        return EscalationChanged(
            escalation_id=escalation_id,
            severity=Severity.URGENT,
            condition=Condition.SPO2_LOW,
            occurrence=1,
            session=1,
            status=EscalationStatus.OPEN,
        )

    await handle.signal(TreatmentCourse.escalation_changed, news("escalation-course-other-1-x"))
    for args in BAD_ARGUMENTS:
        await handle.signal("escalation_changed", args=args)
    await handle.signal("session_moved", {"number": 1, "phase": "induction"})
    await sealed_garbage(env, course, "escalation_changed")
    own = f"escalation-{course}-session-1-spo2_low-1"
    await handle.signal(TreatmentCourse.escalation_changed, news(own))

    await quiet(env.client, course)
    status = await course_status(env.client, room.course_id)
    assert [e.escalation_id for e in status.open_escalations] == [own]
    assert status.current_session == room.session
    assert await failed_tasks(env, course) == 0
