"""Running activities for real, outside a worker, against a freshly registered course."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import TypeVar

from temporalio.testing import ActivityEnvironment

from domain.course import PatientContact
from domain.notices import Channel
from domain.protocol import PROTOCOL_VERSION, Indication
from domain.records import PatientRegistration
from worker.logs import activity_log_context

A = TypeVar("A")
R = TypeVar("R")

CLINIC_TIMEZONE = "America/New_York"

PATIENT = PatientContact(
    name="Jane Quinn Testpatient",
    phone="+15551230001",
    email="jane.testpatient@example.org",
    date_of_birth=date(1980, 5, 17),
    reminders_by=frozenset({Channel.SMS}),
)


def phi_of(patient: PatientContact) -> tuple[str, ...]:
    assert patient.email is not None
    return (
        patient.name,
        patient.phone,
        patient.phone.removeprefix("+"),
        patient.email,
        patient.date_of_birth.isoformat(),
    )


def registration(
    reminders_by: frozenset[Channel] = frozenset({Channel.SMS}),
) -> PatientRegistration:
    """A new course (unique ids) for the test patient."""
    tag = uuid.uuid4().hex[:10]
    return PatientRegistration(
        course_id=f"c-{tag}",
        patient_ref=f"p-{tag}",
        clinic_id="clinic-test",
        clinic_timezone=CLINIC_TIMEZONE,
        indication=Indication.TRD,
        protocol_version=PROTOCOL_VERSION,
        patient=PATIENT.model_copy(update={"reminders_by": reminders_by}),
    )


async def run(
    activity: Callable[[A], Awaitable[R]],
    arg: A,
    *,
    scheduled_at: datetime | None = None,
    workflow_id: str = "course-under-test-session-1",
) -> R:
    """One attempt of the activity, named as the worker names it (its method name), for
    `workflow_id`, scheduled at `scheduled_at` (else the test environment's fixed time), its log
    context bound as the worker binds it."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, activity_type=activity.__name__, workflow_id=workflow_id
    )
    if scheduled_at is not None:
        env.info = dataclasses.replace(env.info, scheduled_time=scheduled_at)

    async def as_the_worker_runs_it(arg: A) -> R:
        with activity_log_context():
            return await activity(arg)

    result: R = await env.run(as_the_worker_runs_it, arg)
    return result
