"""The audit log: a day through every door (the API, the console, the codec server, the CLI)
leaves exactly the expected rows, refusals leave none as done, an auditor finds them with
`trdflow audit search`, and the application's database role can only append."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import asyncpg
import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client

from cli.localstack import new_course_id
from cli.simulation import PERSONAS, demo_course
from domain.access import EVERY_CLINIC, Identity, Kind, Role
from store import tokens
from store.db import APP_ROLE, create_pool
from tests.cli_runs import cli
from tests.sessions import assess
from worker.codec_server import create_app as create_codec_app
from worker.settings import Settings


async def bearer(pool: asyncpg.Pool, who: Identity) -> dict[str, str]:
    issued = await tokens.issue(pool, who, timedelta(days=1), "tests")
    return {"Authorization": f"Bearer {issued.token}"}


async def trail(pool: asyncpg.Pool, actors: list[str]) -> list[tuple[str, ...]]:
    rows = await pool.fetch(
        "SELECT actor, actor_kind, action, stage, clinic_id FROM audit_log"
        " WHERE actor = ANY($1) ORDER BY id",
        actors,
    )
    return [tuple(row.values()) for row in rows]


@pytest.mark.usefixtures("worker", "cli_db")
async def test_a_day_through_every_door_leaves_exactly_the_expected_rows(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool, settings: Settings
) -> None:
    tag = uuid.uuid4().hex[:6]
    course = demo_course(new_course_id("audit-day"), PERSONAS["responder"], 1.0)
    clinic = course.clinic_id
    ehr = Identity(
        actor=f"ehr-{tag}", kind=Kind.SYSTEM, roles=frozenset({Role.EHR}),
        clinics=frozenset({clinic}),
    )  # fmt: skip
    stranger = ehr.model_copy(update={"actor": f"ehr-far-{tag}", "clinics": {"far-clinic"}})
    nurse = Identity(
        actor=f"nurse-{tag}", kind=Kind.PERSON, roles=frozenset({Role.NURSE}),
        clinics=frozenset({clinic}),
    )  # fmt: skip
    operator = Identity(
        actor=f"operator-{tag}", kind=Kind.PERSON, roles=frozenset({Role.OPERATOR}),
        clinics=frozenset({EVERY_CLINIC}),
    )  # fmt: skip
    admin = f"admin-{tag}"
    as_ehr, as_stranger = await bearer(db_pool, ehr), await bearer(db_pool, stranger)

    # The API: an EHR starts a course, reads it, reports a score, changes the contact details.
    started = await api.post("/v1/courses", json=course.model_dump(mode="json"), headers=as_ehr)
    assert started.status_code == 201, started.text
    await assess(client, course.course_id)
    assert (await api.get(f"/v1/courses/{course.course_id}", headers=as_ehr)).status_code == 200
    score = {"scale": "phq9", "total": 12, "item9": 0}
    url = f"/v1/courses/{course.course_id}/scores"
    assert (await api.post(url, json=score, headers=as_ehr)).status_code == 204
    contact = course.patient.model_copy(update={"phone": "+15550100321"})
    changed = await api.put(
        f"/v1/patients/{course.patient_ref}/contact",
        json=contact.model_dump(mode="json"),
        headers=as_ehr,
    )
    assert changed.status_code == 204
    # Another clinic's EHR is refused, and audited as nothing.
    assert (
        await api.get(f"/v1/courses/{course.course_id}", headers=as_stranger)
    ).status_code == 404
    assert (await api.post(url, json=score, headers=as_stranger)).status_code == 404

    # The console: the nurse signs in, reads the open escalations, and signs out.
    issued = await tokens.issue(db_pool, nurse, timedelta(days=1), "tests")
    assert (await api.post("/console/sign-in", data={"token": issued.token})).status_code == 303
    assert (await api.get("/console/escalations")).status_code == 200
    page = await api.get("/console")
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    assert (await api.post("/console/sign-out", data={"csrf": csrf})).status_code == 303

    # The codec server: an operator decodes one payload.
    transport = httpx.ASGITransport(app=create_codec_app(settings, db_pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as codec:
        payloads = json_format.MessageToDict(Payloads(payloads=[Payload(data=b"{}")]))
        decoded = await codec.post(
            "/decode", json=payloads, headers={**await bearer(db_pool, operator)}
        )
    assert decoded.status_code == 200

    # The CLI: an administrator issues a token.
    issued_by_cli = await cli(
        "tokens", "issue", f"gateway-{tag}", "--kind", "system", "--role", "device_gateway",
        "--clinic", clinic, "--by", admin,
    )  # fmt: skip
    assert issued_by_cli.exit_code == 0, issued_by_cli.output

    actors = [ehr.actor, stranger.actor, nurse.actor, operator.actor, admin]
    assert await trail(db_pool, actors) == [
        (ehr.actor, "system", "course.start_requested", "done", clinic),
        (ehr.actor, "system", "course.started", "done", clinic),
        (ehr.actor, "system", "course.read", "done", clinic),
        (ehr.actor, "system", "course.score_recorded", "intent", clinic),
        (ehr.actor, "system", "course.score_recorded", "done", clinic),
        (ehr.actor, "system", "patient.contact_changed", "done", clinic),
        (nurse.actor, "person", "console.signed_in", "done", None),
        (nurse.actor, "person", "console.escalations_read", "done", None),
        (nurse.actor, "person", "console.signed_out", "done", None),
        (operator.actor, "person", "codec.decoded", "done", None),
        (admin, "person", "token.issued", "done", None),
    ]

    found = await cli("audit", "search", "--actor", ehr.actor, "--json")
    assert found.exit_code == 0, found.output
    assert [entry["action"] for entry in json.loads(found.output)] == [
        "course.start_requested",
        "course.started",
        "course.read",
        "course.score_recorded",
        "course.score_recorded",
        "patient.contact_changed",
    ]
    by_prefix = await cli(
        "audit", "search", "--actor", nurse.actor, "--action", "console.", "--json"
    )
    assert [entry["action"] for entry in json.loads(by_prefix.output)] == [
        "console.signed_in",
        "console.escalations_read",
        "console.signed_out",
    ]


async def test_the_application_role_appends_and_reads_but_never_changes_the_log(
    postgres_url: str, db_pool: asyncpg.Pool
) -> None:
    app_pool = await create_pool(postgres_url, APP_ROLE)  # as the processes of `make run`
    try:
        appended = await app_pool.fetchval(
            "INSERT INTO audit_log (actor, action) VALUES ('role-test', 'test.appended')"
            " RETURNING id"
        )
        assert await app_pool.fetchval("SELECT action FROM audit_log WHERE id = $1", appended)
        # Every statement on its own connection turn: the pool's reset keeps the role.
        for statement in (
            "UPDATE audit_log SET actor = 'someone-else' WHERE id = $1",
            "DELETE FROM audit_log WHERE id = $1",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await app_pool.execute(statement, appended)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await app_pool.execute("TRUNCATE audit_log")
    finally:
        await app_pool.close()
    # The owner is refused too, by the log's triggers.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db_pool.execute("DELETE FROM audit_log WHERE id = $1", appended)
