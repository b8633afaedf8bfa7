"""PHI reaches Temporal only encrypted: never in clear in history, ids, attributes or failures.

The demo patient's name, phone and date of birth are searched for in the raw bytes of every
event of a whole course (every run, every session child), as the server stores them.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import domain
from cli.localstack import new_course_id, play
from cli.room import ClinicApi
from cli.simulation import PERSONAS, demo_course
from domain.contract import PATIENT_REF, TASK_QUEUE, course_workflow_id
from domain.course import CourseStart, PatientContact
from tests.courses import course_histories
from worker.client import start_course
from worker.codec import ENCODING
from worker.settings import Settings

PERSONA = PERSONAS["misser"]  # misses, frequency changes and a relapse: the widest history
BAD_PHONE = "+1 555 0100 999"  # a typo'd number is still the patient's number


def phi_of(patient: PatientContact) -> tuple[bytes, ...]:
    return tuple(
        text.encode()
        for text in (
            patient.name,
            patient.phone,
            patient.phone.removeprefix("+"),
            patient.date_of_birth.isoformat(),
        )
    )


@dataclass(frozen=True)
class Played:
    course: CourseStart
    histories: list[WorkflowHistory]

    @property
    def phi(self) -> tuple[bytes, ...]:
        return phi_of(self.course.patient)


@pytest.fixture(scope="module")
async def played(
    env: WorkflowEnvironment, clinic: ClinicApi, settings: Settings, worker: Worker
) -> Played:
    """A whole course, started the way production starts one (attributes and summary)."""
    course = demo_course(new_course_id("phi"), PERSONA, time_scale=1.0)
    await play(env, clinic, course, PERSONA, starter=lambda c, s: start_course(c, s, settings))
    return Played(course, await course_histories(env.client, course.course_id))


def test_no_event_of_the_course_or_its_sessions_holds_phi_in_the_clear(played: Played) -> None:
    sessions = {h.workflow_id for h in played.histories} - {
        course_workflow_id(played.course.course_id)
    }
    assert len(sessions) > 10, "the walk must reach the session children"

    leaks = [
        (history.workflow_id, event.event_id, EventType.Name(event.event_type), secret)
        for history in played.histories
        for event in history.events
        for secret in played.phi
        if secret in event.SerializeToString()
    ]

    assert not leaks


async def test_every_course_run_carries_the_patient_encrypted(
    played: Played, converter: DataConverter
) -> None:
    course_runs = [
        h for h in played.histories if h.workflow_id == course_workflow_id(played.course.course_id)
    ]
    assert len(course_runs) > 1, "the course continues-as-new at phase boundaries"

    for run in course_runs:
        payloads = run.events[0].workflow_execution_started_event_attributes.input.payloads
        assert [p.metadata["encoding"] for p in payloads] == [ENCODING]
        (start,) = await converter.decode(payloads, [CourseStart])
        assert start.patient == played.course.patient


async def test_workflow_ids_and_search_attributes_hold_no_phi(
    played: Played, client: Client
) -> None:
    for workflow_id in {h.workflow_id for h in played.histories}:
        described = await describe(client, workflow_id)
        attributes = described.workflow_execution_info.search_attributes.SerializeToString()
        assert not [s for s in played.phi if s in workflow_id.encode() or s in attributes]

    course = await describe(client, course_workflow_id(played.course.course_id))
    patient_ref = course.workflow_execution_info.search_attributes.indexed_fields[PATIENT_REF.name]
    assert json.loads(patient_ref.data) == played.course.patient_ref


async def test_summaries_hold_no_phi_even_decrypted(played: Played, client: Client) -> None:
    encoded = [
        event.user_metadata.summary
        for history in played.histories
        for event in history.events
        if event.user_metadata.HasField("summary")
    ]
    summaries = await client.data_converter.decode(encoded, [str] * len(encoded))

    assert len(summaries) > 10, "the course and every session have a summary"
    assert not [s for s in played.phi for summary in summaries if s in summary.encode()]


async def test_a_rejected_start_input_fails_with_encrypted_attributes_only(
    client: Client, converter: DataConverter, worker: Worker
) -> None:
    course = demo_course(new_course_id("badphone"), PERSONA, time_scale=1.0)
    handle = await start_with_bad_phone(client, course)
    try:
        failed = await first_task_failure(handle)
        events = (await handle.fetch_history()).events
    finally:
        await handle.terminate("test over")

    failure = failed.workflow_task_failed_event_attributes.failure
    secrets = (*phi_of(course.patient), BAD_PHONE.encode())
    assert not [s for e in events for s in secrets if s in e.SerializeToString()]
    assert (failure.message, failure.stack_trace) == ("Encoded failure", "")
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    # Decrypted, the validation error names the field but does not quote the input.
    decoded = await converter.decode_failure(copy_of(failure))
    assert "Failed decoding arguments" in str(decoded)
    assert "phone" in str(decoded.__cause__)
    assert BAD_PHONE not in str(decoded.__cause__)


async def test_a_rejected_start_input_is_not_logged(
    client: Client, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    course = demo_course(new_course_id("badphonelog"), PERSONA, time_scale=1.0)
    handle = await start_with_bad_phone(client, course)
    try:
        await first_task_failure(handle)
    finally:
        await handle.terminate("test over")

    assert BAD_PHONE not in caplog.text


async def start_with_bad_phone(client: Client, course: CourseStart) -> WorkflowHandle[Any, Any]:
    """A start input from a caller that skipped our models: only the workflow can reject it."""
    raw = course.model_dump(mode="json")
    raw["patient"]["phone"] = BAD_PHONE
    return await client.start_workflow(
        "TreatmentCourse", raw, id=course_workflow_id(course.course_id), task_queue=TASK_QUEUE
    )


async def first_task_failure(handle: WorkflowHandle[Any, Any]) -> HistoryEvent:
    for _ in range(200):
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return event
        await asyncio.sleep(0.02)
    raise AssertionError(f"{handle.id} never failed a workflow task")


def copy_of(failure: Failure) -> Failure:
    copied = Failure()
    copied.CopyFrom(failure)
    return copied


async def describe(client: Client, workflow_id: str) -> DescribeWorkflowExecutionResponse:
    # Raw: the test server keeps an unset NextSessionAt as a null payload, which
    # `WorkflowHandle.describe()` fails to parse as a datetime.
    return await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )


def test_no_domain_message_quotes_its_input_in_an_error() -> None:
    # Errors reach the SDK's failure logs and the API's answers: a quoted value may be PHI.
    models = [
        model
        for module in pkgutil.iter_modules(domain.__path__)
        for model in vars(importlib.import_module(f"domain.{module.name}")).values()
        # Defined there: domain.fhir imports fhir.resources' models, validated by that library.
        if isinstance(model, type)
        and issubclass(model, BaseModel)
        and model.__module__.startswith("domain.")
    ]

    assert len(models) > 40
    assert [m.__name__ for m in models if not m.model_config.get("hide_input_in_errors")] == []
    with pytest.raises(ValidationError) as refused:
        CourseStart.model_validate(
            {
                **demo_course("c-zone", PERSONAS["responder"], 1.0).model_dump(),
                "clinic_timezone": "Jane/Roe",
            }
        )
    assert "Jane" not in str(refused.value) and "unknown time zone" in str(refused.value)
