"""Clinic scopes: a caller of one clinic can neither read nor change another clinic's courses,
sessions or escalations, through any route of the API or the console.

The matrix covers every route the app serves (a new route fails the coverage test until it is
placed), with bodies that would be valid, so a refusal is the scope's and not the body's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi.routing import APIRoute
from temporalio.client import Client

from api.app import create_app
from api.console.routes import router as console_router
from cli.localstack import new_course_id, served
from cli.simulation import PERSONAS, demo_course
from domain.access import Identity, Kind, Role
from domain.escalation import Severity
from store import patients, tokens
from tests.console_rows import CLINIC, next_snapshot, seed
from tests.http_api import api_settings
from tests.sessions import GATEWAY, course_in_record
from worker.settings import Settings

OTHER_CLINIC = "other-clinic"
NOW = datetime.now(UTC).replace(microsecond=0)

SESSION = "/v1/courses/{course_id}/sessions/{n}"
COURSE_ROUTES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/v1/courses/{course_id}"): None,
    ("POST", "/v1/courses/{course_id}/scores"): {"scale": "phq9", "total": 12, "item9": 0},
    ("POST", f"{SESSION}/vitals"): {"taken_at": NOW.isoformat(), "spo2": 97},
    ("POST", f"{SESSION}/check-in"): None,
    ("PUT", f"{SESSION}/transport"): {"driver_name": "Sam Driver", "driver_phone": "+15550100777"},
    ("POST", f"{SESSION}/transport/confirm"): None,
    ("POST", f"{SESSION}/hold-decision"): {"proceed": True, "note": "BP fine on repeat"},
    ("POST", f"{SESSION}/administration"): {
        "dose_mg": 56,
        "lot": "L-1",
        "device_times": [NOW.isoformat(), (NOW + timedelta(minutes=5)).isoformat()],
    },
    ("POST", f"{SESSION}/discharge"): {},
    ("POST", f"{SESSION}/outcome"): {"outcome": "missed", "note": "no show"},
    ("GET", "/fhir/r4b/CarePlan/{course_id}"): None,
    ("GET", "/fhir/r4b/CarePlan/{course_id}/$everything"): None,
}
"""Every route under a course, with a body that would be valid."""

CONTACT_ROUTE = ("PUT", "/v1/patients/{patient_ref}/contact")
"""The patient's, whose clinics are those of their courses."""
PATIENT_READ = ("GET", "/fhir/r4b/Patient/{patient_ref}")

CONSOLE_ROUTES = {
    ("GET", "/console/escalations"),
    ("GET", "/console/events"),
    ("POST", "/console/escalations/{escalation_id}/acknowledge"),
    ("POST", "/console/escalations/{escalation_id}/resolve"),
    ("POST", "/console/escalations/{escalation_id}/reassign"),
    ("GET", "/console/on-call"),
}
"""The console's routes that show or change escalations: `test_the_console_...` covers them."""

UNSCOPED = {
    ("POST", "/v1/courses"),  # the clinic is in the body: `test_starting_...` covers it
    ("POST", "/v1/webhooks/sms"),  # providers, signed; they name no caller
    ("POST", "/v1/webhooks/pager"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),  # counts by severity, clinic and phase for Prometheus: no course, no PHI
    ("GET", "/console"),
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-out"),
    ("GET", "/console/assets/{name}"),
    ("GET", "/console/sso"),
    ("GET", "/console/sso/callback"),
}
"""Routes that touch no clinic's data."""

WRITES = ("readings", "transport_arrangements", "doses", "course_clinics")


def person(actor: str, role: Role, clinic: str) -> Identity:
    return Identity(
        actor=actor, kind=Kind.PERSON, roles=frozenset({role}), clinics=frozenset({clinic})
    )


OUTSIDERS = (
    person("nurse-other", Role.NURSE, OTHER_CLINIC),
    Identity(
        actor="ehr-other",
        kind=Kind.SYSTEM,
        roles=frozenset({Role.EHR, Role.DEVICE_GATEWAY}),
        clinics=frozenset({OTHER_CLINIC}),
    ),
)


async def bearer_of(pool: asyncpg.Pool, who: Identity) -> dict[str, str]:
    issued = await tokens.issue(pool, who, timedelta(days=1), "tests")
    return {"Authorization": f"Bearer {issued.token}"}


async def writes(pool: asyncpg.Pool, actors: set[str]) -> dict[str, int]:
    """Rows in the tables callers write, and audit rows by `actors`."""
    counts = {table: await pool.fetchval(f"SELECT count(*) FROM {table}") for table in WRITES}
    counts["audit_log"] = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE actor = ANY($1)", sorted(actors)
    )
    return counts


def test_every_route_is_in_the_scope_matrix(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> None:
    # The OpenAPI document lists the API's routes; the console's are left out of it.
    document = create_app(api_settings(settings), client, db_pool).openapi()
    api_routes = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    console_routes = {
        (method, route.path)
        for route in console_router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }

    placed = {*COURSE_ROUTES, CONTACT_ROUTE, PATIENT_READ, *CONSOLE_ROUTES, *UNSCOPED}
    assert api_routes | console_routes == placed


@pytest.mark.usefixtures("worker")
async def test_no_route_under_a_course_serves_a_caller_of_another_clinic(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    course = demo_course(new_course_id("scoped"), PERSONAS["responder"], 1.0)
    started = await api.post("/v1/courses", json=course.model_dump(mode="json"), headers=GATEWAY)
    assert started.status_code == 201
    insider = await bearer_of(db_pool, person("nurse-own", Role.NURSE, course.clinic_id))
    outsiders = [await bearer_of(db_pool, who) for who in OUTSIDERS]
    before = await writes(db_pool, {who.actor for who in OUTSIDERS})

    unknown = {"detail": f"course-{course.course_id} not found"}
    for (method, template), body in COURSE_ROUTES.items():
        url = template.format(course_id=course.course_id, n=1)
        for headers in outsiders:
            response = await api.request(method, url, json=body, headers=headers)
            # 403 for a role without the permission, else the answer for no such course.
            assert response.status_code in (403, 404), (method, url, response.text)
            if response.status_code == 404:
                assert response.json() == unknown

    await course_in_record(db_pool, course.course_id)  # its patient is known from now on
    method, template = CONTACT_ROUTE
    contact = course.patient.model_copy(update={"phone": "+15550100123"})
    for headers in outsiders:
        response = await api.request(
            method,
            template.format(patient_ref=course.patient_ref),
            json=contact.model_dump(mode="json"),
            headers=headers,
        )
        assert response.status_code in (403, 404), response.text
        method, template = PATIENT_READ
        url = template.format(patient_ref=course.patient_ref)
        read = await api.request(method, url, headers=headers)
        assert read.status_code in (403, 404), read.text
        assert course.patient.name not in read.text

    assert await writes(db_pool, {who.actor for who in OUTSIDERS}) == before
    assert await patients.contact(db_pool, course.patient_ref) == course.patient
    # The course is there, and its own clinic's nurse reads it.
    own = await api.get(f"/v1/courses/{course.course_id}", headers=insider)
    assert own.status_code == 200


async def test_starting_a_course_for_another_clinic_is_refused_and_claims_nothing(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    course = demo_course(new_course_id("foreign"), PERSONAS["responder"], 1.0)
    headers = await bearer_of(db_pool, OUTSIDERS[1])

    response = await api.post("/v1/courses", json=course.model_dump(mode="json"), headers=headers)

    assert response.status_code == 403
    assert course.clinic_id in response.json()["detail"]
    claimed = "SELECT count(*) FROM course_clinics WHERE course_id = $1"
    assert await db_pool.fetchval(claimed, course.course_id) == 0


async def test_a_course_id_claimed_by_one_clinic_cannot_be_started_by_another(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    course = demo_course(new_course_id("taken"), PERSONAS["responder"], 1.0)
    first = await api.post("/v1/courses", json=course.model_dump(mode="json"), headers=GATEWAY)
    squatter = course.model_copy(update={"clinic_id": OTHER_CLINIC})
    headers = await bearer_of(db_pool, OUTSIDERS[1])

    second = await api.post("/v1/courses", json=squatter.model_dump(mode="json"), headers=headers)

    assert first.status_code == 201
    assert second.status_code == 409
    assert "started only once" in second.json()["detail"]


async def test_the_console_shows_and_acts_on_its_own_clinics_escalations_only(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> None:
    theirs = await seed(db_pool, Severity.CRITICAL, 1)  # the console clinic's
    outsider = person("nurse-console-other", Role.NURSE, OTHER_CLINIC)
    insider = person("nurse-console-own", Role.NURSE, CLINIC)
    app = create_app(api_settings(settings), client, db_pool)
    async with served(app) as url:
        for who, sees in ((outsider, False), (insider, True)):
            token = (await tokens.issue(db_pool, who, timedelta(days=1), "tests")).token
            async with httpx.AsyncClient(base_url=url) as http:
                signed_in = await http.post("/console/sign-in", data={"token": token})
                assert signed_in.status_code == 303
                listing = (await http.get("/console/escalations")).json()
                listed = {e["escalation_id"] for e in listing["escalations"]}
                assert (theirs in listed) is sees
                assert (CLINIC in listing["clinics"]) is sees
                on_call = await http.get("/console/on-call", params={"clinic": CLINIC})
                assert on_call.status_code == (200 if sees else 404)
                if sees:
                    continue
                async with http.stream("GET", "/console/events") as stream:
                    streamed = await next_snapshot(stream.aiter_lines())
                assert theirs not in {e["escalation_id"] for e in streamed["escalations"]}
                # Filtered to the other clinic: not found, as if it did not exist.
                for listing_path in ("/console/escalations", "/console/events"):
                    filtered = await http.get(listing_path, params={"clinic": CLINIC})
                    assert filtered.status_code == 404
                page = await http.get("/console")
                csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
                before = await writes(db_pool, {who.actor})
                for action, body in (
                    ("acknowledge", None),
                    ("resolve", {"note": "handled"}),
                    ("reassign", {"to_staff": "nurse-console-own"}),
                ):
                    refused = await http.post(
                        f"/console/escalations/{theirs}/{action}",
                        json=body,
                        headers={"X-CSRF-Token": csrf},
                    )
                    assert refused.status_code == 404
                assert await writes(db_pool, {who.actor}) == before
