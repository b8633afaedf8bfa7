"""Clinic protocols (S8): published versions in PostgreSQL, pinned by each course at its start."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from cli.localstack import new_course_id
from cli.simulation import DEMO_PROTOCOL, demo_course
from domain.protocol import PROTOCOL_VERSION, Protocol
from domain.session import SessionInput
from store import protocols
from store.protocols import VersionTakenError
from tests.sessions import (
    GATEWAY,
    PERSONA,
    assess,
    course_in_record,
    course_status,
    discontinue,
    first_session,
)

pytestmark = pytest.mark.usefixtures("worker")


def new_clinic() -> str:
    return f"clinic-{uuid.uuid4().hex[:8]}"


def version_of(name: str, **session: int) -> Protocol:
    return DEMO_PROTOCOL.with_overrides({"session": session}, version=name)


async def test_the_last_published_version_is_current_and_republishing_changes_nothing(
    db_pool: asyncpg.Pool,
) -> None:
    clinic = new_clinic()
    assert await protocols.current(db_pool, clinic) is None
    first, first_new = await protocols.publish(
        db_pool, clinic, version_of("v1", min_monitoring_minutes=150), "dr-a"
    )
    _, second_new = await protocols.publish(
        db_pool, clinic, version_of("v2", min_monitoring_minutes=180), "dr-b"
    )
    again, again_new = await protocols.publish(
        db_pool, clinic, version_of("v1", min_monitoring_minutes=150), "dr-a"
    )

    assert (first_new, second_new, again_new) == (True, True, False)
    assert again == first
    current = await protocols.current(db_pool, clinic)
    assert current is not None and current.version == "v2"
    assert [entry.version for entry in await protocols.versions(db_pool, clinic)] == ["v2", "v1"]
    audited = await db_pool.fetch(
        "SELECT actor, details FROM audit_log WHERE action = $1 AND details->>'clinic_id' = $2"
        " ORDER BY id",
        protocols.PUBLISH_ACTION,
        clinic,
    )
    assert [(row["actor"], row["details"]["version"]) for row in audited] == [
        ("dr-a", "v1"),
        ("dr-b", "v2"),
    ]


async def test_a_published_version_never_changes(db_pool: asyncpg.Pool) -> None:
    clinic = new_clinic()
    await protocols.publish(db_pool, clinic, version_of("v1", min_monitoring_minutes=150), "a")

    with pytest.raises(VersionTakenError, match="publish a new version"):
        await protocols.publish(db_pool, clinic, version_of("v1", min_monitoring_minutes=121), "a")

    pinned = await protocols.pinned(db_pool, clinic, "v1")
    assert pinned.session.min_monitoring_minutes == 150


async def test_the_labels_version_name_is_not_a_clinics_to_take(db_pool: asyncpg.Pool) -> None:
    with pytest.raises(ValueError, match="label's defaults"):
        await protocols.publish(db_pool, new_clinic(), Protocol(), "a")


async def test_a_course_pins_its_clinics_current_version_and_keeps_it(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    clinic = new_clinic()
    await protocols.publish(db_pool, clinic, version_of("v1", min_monitoring_minutes=150), "a")
    pinned_course = await start_in(api, db_pool, clinic, "pin-v1")
    await assess(client, pinned_course)
    session = await first_session(client, pinned_course)

    await protocols.publish(db_pool, clinic, version_of("v2", min_monitoring_minutes=180), "a")
    later_course = await start_in(api, db_pool, clinic, "pin-v2")

    assert (await course_status(client, pinned_course)).protocol_version == "v1"
    assert await recorded_version(db_pool, pinned_course) == "v1"
    assert await recorded_version(db_pool, later_course) == "v2"
    # The clinic's values reach the room: the session runs the pinned monitoring floor.
    history = await client.get_workflow_handle(session.workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (session_input,) = await client.data_converter.decode(started.input.payloads, [SessionInput])
    assert session_input.rules.min_monitoring_minutes == 150
    await discontinue(client, pinned_course)
    await discontinue(client, later_course)


async def test_a_clinic_that_published_nothing_runs_the_labels_protocol(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    course_id = await start_in(api, db_pool, new_clinic(), "label")

    assert await recorded_version(db_pool, course_id) == PROTOCOL_VERSION
    assert (await course_status(client, course_id)).protocol_version == PROTOCOL_VERSION
    await discontinue(client, course_id)


async def start_in(api: httpx.AsyncClient, db_pool: asyncpg.Pool, clinic: str, label: str) -> str:
    course = demo_course(new_course_id(label), PERSONA, time_scale=1.0, clinic_id=clinic)
    response = await api.post("/v1/courses", json=course.model_dump(mode="json"), headers=GATEWAY)
    assert response.status_code == 201, response.text
    await course_in_record(db_pool, course.course_id)  # pinned as it registers
    return course.course_id


async def recorded_version(db_pool: asyncpg.Pool, course_id: str) -> str:
    version: str = await db_pool.fetchval(
        "SELECT protocol_version FROM courses WHERE course_id = $1", course_id
    )
    return version
