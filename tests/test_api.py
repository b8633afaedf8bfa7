"""The HTTP API in-process, against the real embedded Postgres and the time-skipping server."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api import twilio
from cli.localstack import new_course_id
from cli.room import ClinicApi
from cli.simulation import DEMO_CLINIC, demo_course
from domain.contract import course_workflow_id
from domain.session import Stage, TransportConfirmedVia
from domain.session_core import SessionState
from store.patients import claim_course
from store.transport import arrange_transport, mark_requested
from tests.audit_rows import attempts
from tests.http_api import TWILIO_AUTH_TOKEN, api_client, api_settings
from tests.sessions import (
    BETWEEN_DEVICES,
    DOCTOR,
    GATEWAY,
    NURSE,
    PERSONA,
    InRoom,
    administration,
    assess,
    assess_ahead,
    course_in_record,
    discontinue,
    eventually,
    first_session,
    path,
    skip_to_check_in,
    sleep_until,
    start_course,
)
from worker.settings import Settings

SMS_URL = "http://api/v1/webhooks/sms"
CLINIC_NUMBER = "+15550100000"
"""The clinic's Twilio number, which ride requests are sent from."""
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
TABLES = ("readings", "transport_arrangements", "doses", "audit_log")
MISSED = {"outcome": "missed", "note": "no show"}

STAFF_ONLY = [
    ("POST", "/v1/courses/c-1/sessions/1/check-in"),
    ("PUT", "/v1/courses/c-1/sessions/1/transport"),
    ("POST", "/v1/courses/c-1/sessions/1/transport/confirm"),
    ("POST", "/v1/courses/c-1/sessions/1/hold-decision"),
    ("POST", "/v1/courses/c-1/sessions/1/administration"),
    ("POST", "/v1/courses/c-1/sessions/1/discharge"),
    ("POST", "/v1/courses/c-1/sessions/1/outcome"),
]
SIGNED_IN = [
    ("POST", "/v1/courses"),
    ("GET", "/v1/courses/c-1"),
    ("POST", "/v1/courses/c-1/scores"),
    ("POST", "/v1/courses/c-1/sessions/1/vitals"),
    *STAFF_ONLY,
]

pytestmark = pytest.mark.usefixtures("worker")


# --- Helpers -----------------------------------------------------------------------------------


async def row_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """Rows written on behalf of callers (escalation workflows keep auditing in the
    background: their 'system' rows are not a request's doing)."""
    return {
        table: await pool.fetchval(
            f"SELECT count(*) FROM {table}"
            + (" WHERE actor <> 'system'" if table == "audit_log" else "")
        )
        for table in TABLES
    }


async def audit_trail(pool: asyncpg.Pool, course_id: str) -> list[tuple[str, str]]:
    """The actions done on a course once started (its start, the escalation workflow's own
    steps and the reads of its status left out, and so are the intents and refusals of actions
    sent to a workflow)."""
    rows = await pool.fetch(
        "SELECT actor, action FROM audit_log WHERE course_id = $1 AND actor <> 'system'"
        " AND stage = 'done' AND action NOT IN ('course.start_requested', 'course.started',"
        " 'course.read') ORDER BY id",
        course_id,
    )
    return [(row["actor"], row["action"]) for row in rows]


def signed_sms(
    body: str, sender: str, *, url: str = SMS_URL, to: str = CLINIC_NUMBER
) -> dict[str, Any]:
    """A Twilio-style form post, with the extra fields Twilio sends (all of them signed)."""
    form = {
        "MessageSid": f"SM{secrets.token_hex(16)}",
        "AccountSid": "AC0000",
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    signature = twilio.signature(TWILIO_AUTH_TOKEN, url, form.items())
    return {
        "content": urlencode(form),
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    }


# --- Docs and health ---------------------------------------------------------------------------


async def test_openapi_documents_every_endpoint(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()

    operations = {
        (method.upper(), route): operation
        for route, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    session = "/v1/courses/{course_id}/sessions/{n}"
    assert set(operations) == {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("POST", "/v1/courses"),
        ("GET", "/v1/courses/{course_id}"),
        ("POST", "/v1/courses/{course_id}/scores"),
        ("PUT", "/v1/patients/{patient_ref}/contact"),
        ("POST", f"{session}/vitals"),
        ("POST", f"{session}/check-in"),
        ("PUT", f"{session}/transport"),
        ("POST", f"{session}/transport/confirm"),
        ("POST", f"{session}/hold-decision"),
        ("POST", f"{session}/administration"),
        ("POST", f"{session}/discharge"),
        ("POST", f"{session}/outcome"),
        ("POST", "/v1/webhooks/sms"),
        ("POST", "/v1/webhooks/pager"),
        ("GET", "/fhir/r4b/CarePlan/{course_id}"),
        ("GET", "/fhir/r4b/CarePlan/{course_id}/$everything"),
        ("GET", "/fhir/r4b/Patient/{patient_ref}"),
    }
    for (method, route), operation in operations.items():
        assert operation["summary"] and operation["description"], (method, route)
        if route.startswith(("/v1/courses", "/fhir")):
            assert operation["security"] == [{"HTTPBearer": []}], (method, route)
            assert {"401", "403", "422", "503"} <= set(operation["responses"]), (method, route)
            assert "Retry-After" in operation["responses"]["503"]["headers"], (method, route)
        if method == "POST" and route.startswith(session) and route != f"{session}/vitals":
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert headers == ["idempotency-key"], (method, route)
    models = set(schema["components"]["schemas"])
    assert {"CourseStart", "CourseStatus", "VitalSigns", "Score", "SessionState"} <= models
    assert {"AdministrationRequest", "HoldDecisionRequest", "TransportArrangement"} <= models
    assert (await api.get("/docs")).status_code == 200
    assert (await api.get("/healthz")).json() == {"status": "ok"}


# --- Auth --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), SIGNED_IN)
async def test_no_token_or_a_bad_one_is_401(api: httpx.AsyncClient, method: str, url: str) -> None:
    missing = await api.request(method, url, json={})
    wrong = await api.request(method, url, json={}, headers={"Authorization": "Bearer nope"})

    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "url"), STAFF_ONLY)
async def test_a_service_token_may_not_act_for_staff(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, method: str, url: str
) -> None:
    before = await row_counts(db_pool)

    response = await api.request(method, url, json={}, headers=GATEWAY)

    assert response.status_code == 403
    assert await row_counts(db_pool) == before


async def test_staff_may_not_start_courses(api: httpx.AsyncClient, client: Client) -> None:
    course = demo_course(new_course_id("staff-start"), PERSONA, time_scale=1.0)

    response = await api.post("/v1/courses", json=course.model_dump(mode="json"), headers=NURSE)

    assert response.status_code == 403
    with pytest.raises(RPCError) as err:
        await client.get_workflow_handle(course_workflow_id(course.course_id)).describe()
    assert err.value.status is RPCStatusCode.NOT_FOUND


# --- Courses -----------------------------------------------------------------------------------


async def test_course_start_status_and_duplicate(api: httpx.AsyncClient) -> None:
    course_id = await start_course(api, "api-start")
    course = demo_course(course_id, PERSONA, time_scale=1.0)

    status = await api.get(f"/v1/courses/{course_id}", headers=NURSE)
    again = await api.post("/v1/courses", json=course.model_dump(mode="json"), headers=GATEWAY)

    assert status.status_code == 200
    assert status.json()["phase"] == "assessment"
    assert again.status_code == 409
    assert "started only once" in again.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"course_id": "Not_A_Ref"}, "course_id"),
        # Its workflow id would be session 2 of course "c-1".
        ({"course_id": "c-1-session-2"}, "course_id"),
        ({"time_scale": 0.001}, "time_scale"),  # simulation is not enabled
        # A course pins its clinic's published protocol: a caller cannot send one (S8).
        ({"protocol": {"session": {"min_monitoring_minutes": 0}}}, "protocol"),
        (
            {"patient": {"name": "Jane Roe", "phone": "555-JANE", "date_of_birth": "1980-01-01"}},
            "phone",
        ),
    ],
)
async def test_a_bad_course_start_is_422_and_starts_nothing(
    api: httpx.AsyncClient, client: Client, change: dict[str, Any], field: str
) -> None:
    course_id = new_course_id("bad-start")
    body = {**demo_course(course_id, PERSONA, time_scale=1.0).model_dump(mode="json"), **change}

    response = await api.post("/v1/courses", json=body, headers=GATEWAY)

    assert response.status_code == 422
    assert field in str(response.json()["detail"])
    assert "Jane Roe" not in response.text and "555-JANE" not in response.text  # no PHI echo
    with pytest.raises(RPCError):
        await client.get_workflow_handle(course_workflow_id(course_id)).describe()


async def test_unknown_course_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/courses/no-such-course", headers=GATEWAY)

    assert response.status_code == 404
    assert response.json() == {"detail": "course-no-such-course not found"}


async def test_a_madrs_without_its_baseline_is_refused_a_phq9_always_recorded_and_audited(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    course_id = await start_course(api, "api-score")
    await assess(client, course_id)  # a PHQ-9 baseline only
    madrs = {"scale": "madrs", "total": 20}
    score = {"scale": "phq9", "total": 12, "item9": 0}

    refused = await api.post(f"/v1/courses/{course_id}/scores", json=madrs, headers=NURSE)
    by_nurse = await api.post(f"/v1/courses/{course_id}/scores", json=score, headers=NURSE)
    by_gateway = await api.post(f"/v1/courses/{course_id}/scores", json=score, headers=GATEWAY)

    assert refused.status_code == 409
    assert refused.json() == {"detail": "no baseline madrs to compare against"}
    assert (by_nurse.status_code, by_gateway.status_code) == (204, 204)
    # Both are audited, the person's and the system's; the refused one not as done.
    assert await audit_trail(db_pool, course_id) == [
        ("nurse-test", "course.score_recorded"),
        ("gateway-test", "course.score_recorded"),
    ]


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("POST", "vitals", {"taken_at": "2030-01-01T09:00:00Z", "systolic": 80, "diastolic": 95}),
        ("POST", "vitals", {"taken_at": "2030-01-01T09:00:00", "spo2": 97}),  # no offset
        ("POST", "vitals", {"taken_at": "2030-01-01T09:00:00Z", "spo2": 97, "name": "Jane Roe"}),
        ("PUT", "transport", {"driver_name": "Jane Roe", "driver_phone": "555-JANE"}),
        (
            "POST",
            "administration",
            {
                "dose_mg": 56,
                "lot": "Jane Roe",
                "device_times": ["2030-01-01T09:00:00Z", "2030-01-01T09:05:00Z"],
            },
        ),
        (
            "POST",
            "hold-decision",
            {"proceed": True, "note": "BP fine on repeat", "reschedule_to": "2030-01-02T09:00:00Z"},
        ),
        ("POST", "hold-decision", {"proceed": True, "note": "ok"}),
        # Years whose date arithmetic would overflow inside the workflow.
        ("POST", "vitals", {"taken_at": "9999-12-31T23:59:59Z", "spo2": 97}),
        (
            "POST",
            "hold-decision",
            {"proceed": False, "note": "BP still high", "reschedule_to": "9999-12-31T09:00:00Z"},
        ),
        (
            "POST",
            "administration",
            {"dose_mg": 56, "lot": "L-1", "device_times": ["0001-01-01T00:00:00Z"]},
        ),
        ("POST", "outcome", {"outcome": "attended"}),
        ("POST", "discharge", {"concomitant_medications": ["Jane Roe"]}),
    ],
)
async def test_bad_input_is_422_writes_nothing_and_echoes_nothing(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool, method: str, action: str, body: dict[str, Any]
) -> None:
    await claim_course(db_pool, "c-1", DEMO_CLINIC)  # known, so that the body is what is judged
    before = await row_counts(db_pool)

    response = await api.request(method, path("c-1", 1, action), json=body, headers=NURSE)

    assert response.status_code == 422
    assert all(problem["loc"][0] == "body" for problem in response.json()["detail"])
    assert "Jane Roe" not in response.text and "555-JANE" not in response.text
    assert await row_counts(db_pool) == before


@pytest.mark.parametrize(
    "url",
    [
        "/v1/courses/Bad_Id/sessions/1/check-in",
        path("c-1", 0, "check-in"),
        path("c-1", 10**12, "check-in"),  # beyond any course, and PostgreSQL's integer
    ],
)
async def test_bad_path_is_422(api: httpx.AsyncClient, url: str) -> None:
    assert (await api.post(url, headers=NURSE)).status_code == 422


async def test_vitals_for_an_unknown_session_are_404_and_not_stored(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    before = await row_counts(db_pool)
    reading = {"taken_at": "2030-01-01T09:00:00Z", "systolic": 120, "diastolic": 80}

    response = await api.post(path("no-such-course", 1, "vitals"), json=reading, headers=GATEWAY)
    check_in = await api.post(path("no-such-course", 1, "check-in"), headers=NURSE)

    assert response.status_code == 404
    assert response.json() == {"detail": "course-no-such-course not found"}
    assert check_in.status_code == 404
    assert await row_counts(db_pool) == before


# --- A session in the room ---------------------------------------------------------------------


async def test_an_update_refused_by_the_session_is_409_with_its_reason(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    course_id = await start_course(api, "api-refused")
    await assess(client, course_id)
    session = await first_session(client, course_id)
    dose = administration(datetime(2030, 1, 1, 9, tzinfo=UTC))

    response = await api.post(path(course_id, session, "administration"), json=dose, headers=NURSE)

    assert response.status_code == 409
    assert response.json() == {"detail": "the session is scheduled, not ready_to_dose"}
    assert await audit_trail(db_pool, course_id) == []
    refused = [("session.dose_recorded", 1, "intent"), ("session.dose_recorded", 1, "refused")]
    assert await attempts(db_pool, course_id) == refused


async def test_an_action_sent_again_with_its_key_once_its_session_ended_answers_its_first_result(
    api: httpx.AsyncClient, env: WorkflowEnvironment, client: Client, db_pool: asyncpg.Pool
) -> None:
    course_id = await start_course(api, "api-ended-retry")
    await assess_ahead(env, course_id)
    session = await first_session(client, course_id)
    key = {**NURSE, "Idempotency-Key": secrets.token_hex(16)}

    reported = await api.post(path(course_id, session, "outcome"), json=MISSED, headers=key)
    await client.get_workflow_handle(session.workflow_id).result()
    retried = await api.post(path(course_id, session, "outcome"), json=MISSED, headers=key)

    assert reported.status_code == 200, reported.text
    # Not a 409: the retry's Update id is known, so the answer is the first one.
    assert (retried.status_code, retried.json()) == (200, reported.json())
    done = [("session.outcome_reported", 1, "intent"), ("session.outcome_reported", 1, "done")]
    assert await attempts(db_pool, course_id) == done


async def test_a_missed_session_is_reported_audited_and_then_over(
    api: httpx.AsyncClient, env: WorkflowEnvironment, client: Client, db_pool: asyncpg.Pool
) -> None:
    course_id = await start_course(api, "api-missed")
    await assess_ahead(env, course_id)
    session = await first_session(client, course_id)

    reported = await api.post(path(course_id, session, "outcome"), json=MISSED, headers=NURSE)
    await client.get_workflow_handle(session.workflow_id).result()
    before = await row_counts(db_pool)
    again = await api.post(path(course_id, session, "outcome"), json=MISSED, headers=NURSE)
    late = await api.post(
        path(course_id, session, "vitals"),
        json={"taken_at": "2030-01-01T09:00:00Z", "spo2": 97},
        headers=NURSE,
    )

    assert reported.status_code == 200
    assert reported.json()["outcome"] == "missed"
    ended = {"detail": f"{session.workflow_id} is over (completed)"}
    assert (again.status_code, again.json()) == (409, ended)
    assert (late.status_code, late.json()) == (409, ended)
    assert await row_counts(db_pool) == before
    assert await audit_trail(db_pool, course_id) == [("nurse-test", "session.outcome_reported")]
    done = [("session.outcome_reported", 1, "intent"), ("session.outcome_reported", 1, "done")]
    assert await attempts(db_pool, course_id) == done


async def test_a_whole_session_through_the_api(
    api: httpx.AsyncClient,
    clinic: ClinicApi,
    env: WorkflowEnvironment,
    client: Client,
    db_pool: asyncpg.Pool,
) -> None:
    driver_phone = f"+1555{secrets.randbelow(10**7):07d}"
    course_id = await start_course(api, "api-room")
    await course_in_record(db_pool, course_id)
    ride = {"driver_name": "Sam Driver", "driver_phone": driver_phone}
    arranged = await api.put(path(course_id, 1, "transport"), json=ride, headers=NURSE)
    assert arranged.status_code == 204
    await assess_ahead(env, course_id)  # the driver is asked (at the first reminder) first
    session = await first_session(client, course_id)
    room = InRoom(api, clinic, env, course_id, session)
    await skip_to_check_in(env, session)

    async def vitals(headers: dict[str, str], **signs: int) -> int:
        reading_id = await room.vitals(headers, **signs)
        # Stored before the answer: the row is there as soon as the 202 is.
        assert await db_pool.fetchval("SELECT source FROM readings WHERE id = $1", reading_id)
        return reading_id

    # The driver's YES confirms the ride; staff cannot confirm it again.
    sms = await api.post(SMS_URL, **signed_sms("  yes ", driver_phone))
    assert sms.status_code == 200
    assert sms.headers["content-type"].startswith("text/xml")
    assert sms.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    state = await room.details()
    assert state.transport_confirmed_via is TransportConfirmedVia.DRIVER_SMS
    again = await api.post(path(course_id, session, "transport/confirm"), headers=NURSE)
    assert again.status_code == 409
    assert again.json() == {"detail": "the ride home is already confirmed"}

    checked_in = await api.post(path(course_id, session, "check-in"), headers=NURSE)
    assert checked_in.status_code == 200
    assert SessionState.model_validate(checked_in.json()).checked_in_by == "nurse-test"

    # From the gateway, above 140/90: signalled to the session, which holds for a clinician.
    high = await vitals(GATEWAY, systolic=152, diastolic=94, heart_rate=80, spo2=98)
    held = await room.until_stage(Stage.HELD)
    assert [r.reading_id for r in held.readings] == [high]
    decided = await api.post(
        path(course_id, session, "hold-decision"),
        json={"proceed": True, "note": "repeat reading acceptable, benefit outweighs risk"},
        headers=DOCTOR,
    )
    assert decided.status_code == 200
    assert decided.json()["hold_decision"]["clinician"] == "dr-test"

    await room.until_stage(Stage.READY_TO_DOSE)
    first_device = await env.get_current_time()
    await sleep_until(env, first_device + BETWEEN_DEVICES)
    dose = administration(first_device)
    dosed = await api.post(path(course_id, session, "administration"), json=dose, headers=NURSE)
    assert dosed.status_code == 200
    assert dosed.json()["administration"]["by"] == "nurse-test"
    await room.until_stage(Stage.MONITORING)

    early = await api.post(path(course_id, session, "discharge"), json={}, headers=NURSE)
    assert early.status_code == 409
    assert "discharge only after" in early.json()["detail"]

    await env.sleep(timedelta(minutes=40))
    await vitals(NURSE, systolic=134, diastolic=84, heart_rate=78, spo2=97, moaas=4, cadss=8)
    await env.sleep(timedelta(minutes=80))
    last = await vitals(NURSE, systolic=126, diastolic=80, heart_rate=74, spo2=98, moaas=5)
    await room.until_judged(last)
    discharged = await api.post(
        path(course_id, session, "discharge"),
        json={"concomitant_medications": ["benzodiazepines"]},
        headers=NURSE,
    )
    assert discharged.status_code == 200, discharged.text
    assert discharged.json()["discharge"]["by"] == "nurse-test"

    assert await audit_trail(db_pool, course_id) == [
        ("nurse-test", "session.transport_arranged"),
        ("driver", "session.transport_confirmed"),
        ("nurse-test", "session.checked_in"),
        ("gateway-test", "session.vitals_recorded"),  # systems are audited too
        ("dr-test", "session.hold_decided"),
        ("nurse-test", "session.dose_recorded"),
        ("nurse-test", "session.vitals_recorded"),
        ("nurse-test", "session.vitals_recorded"),
        ("nurse-test", "session.discharged"),
    ]


# --- The inbound-SMS webhook -------------------------------------------------------------------


def test_twilio_signature_matches_the_published_vectors() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    repeated = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]

    assert twilio.signature("12345", url, params.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio.signature("12345", url, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert not twilio.is_signed(
        "12345", url + "&x=1", params.items(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )


async def test_a_badly_signed_sms_is_403_before_anything_else(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    before = await row_counts(db_pool)
    forged = signed_sms("YES", "+15550100777")
    forged["headers"]["X-Twilio-Signature"] = twilio.signature("guessed", SMS_URL, [])
    unsigned = signed_sms("YES", "+15550100777")
    del unsigned["headers"]["X-Twilio-Signature"]

    responses = [
        await api.post(SMS_URL, **forged),
        await api.post(SMS_URL, **unsigned),
        # Signed for other content: the form's fields are checked only once it is genuine.
        await api.post(SMS_URL, content="Body=YES", headers=forged["headers"]),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert await row_counts(db_pool) == before


async def test_a_signed_yes_without_a_pending_ride_changes_nothing(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    before = await row_counts(db_pool)

    response = await api.post(SMS_URL, **signed_sms("OK", "+15550100001"))

    assert response.status_code == 200
    assert response.text.endswith("<Response/>")
    assert await row_counts(db_pool) == before


async def test_behind_a_proxy_the_signature_covers_the_public_url(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> None:
    public = api_settings(settings).model_copy(update={"public_url": "https://clinic.example/"})
    async with api_client(public, client, db_pool) as api:
        as_seen = await api.post(SMS_URL, **signed_sms("thanks", "+15550100002"))
        as_public = await api.post(
            SMS_URL,
            **signed_sms("thanks", "+15550100002", url="https://clinic.example/v1/webhooks/sms"),
        )

    assert (as_seen.status_code, as_public.status_code) == (403, 200)


async def test_a_replayed_yes_has_no_second_effect(
    api: httpx.AsyncClient, env: WorkflowEnvironment, client: Client, db_pool: asyncpg.Pool
) -> None:
    driver_phone = f"+1555{secrets.randbelow(10**7):07d}"
    course_id = await start_course(api, "sms-replay")
    await course_in_record(db_pool, course_id)
    ride = {"driver_name": "Sam Driver", "driver_phone": driver_phone}
    arranged = await api.put(path(course_id, 1, "transport"), json=ride, headers=NURSE)
    assert arranged.status_code == 204
    await assess_ahead(env, course_id)
    session = await first_session(client, course_id)
    await skip_to_check_in(env, session)  # the driver is asked on the way
    await eventually(lambda: ride_requested(db_pool, course_id, 1))
    captured = signed_sms("YES", driver_phone)
    [sid] = parse_qs(captured["content"])["MessageSid"]
    try:
        # Twilio's retry (or a replay) racing the delivery it repeats: one confirms.
        both = await asyncio.gather(api.post(SMS_URL, **captured), api.post(SMS_URL, **captured))
        # Later the same driver is asked about another ride; the captured YES comes again.
        revision = await arrange_transport(
            db_pool,
            course_id,
            2,
            driver_name="Sam Driver",
            driver_phone=driver_phone,
            arranged_by="nurse-test",
        )
        await mark_requested(db_pool, course_id, 2, revision=revision, provider_id=None)
        replayed = await api.post(SMS_URL, **captured)

        for response in (*both, replayed):
            assert (response.status_code, response.text) == (200, EMPTY_TWIML)
        assert await rides_confirmed(db_pool, course_id) == {1: "driver_sms", 2: None}
        confirmations = await db_pool.fetch(
            "SELECT details FROM audit_log WHERE course_id = $1"
            " AND action = 'session.transport_confirmed'",
            course_id,
        )
        assert [row["details"]["message_sid"] for row in confirmations] == [sid]
        claims = await db_pool.fetchval(
            "SELECT count(*) FROM webhook_events WHERE source = 'twilio' AND event_id = $1", sid
        )
        assert claims == 1
        # The driver's own new reply is what confirms the next ride.
        fresh = await api.post(SMS_URL, **signed_sms("yes", driver_phone))
        assert fresh.status_code == 200
        assert await rides_confirmed(db_pool, course_id) == {1: "driver_sms", 2: "driver_sms"}
    finally:
        await discontinue(client, course_id)


async def test_only_a_yes_to_the_clinics_number_confirms_a_ride(
    api: httpx.AsyncClient, settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> None:
    driver_phone = f"+1555{secrets.randbelow(10**7):07d}"
    course_id = await start_course(api, "sms-number")
    await course_in_record(db_pool, course_id)
    revision = await arrange_transport(
        db_pool,
        course_id,
        1,
        driver_name="Sam Driver",
        driver_phone=driver_phone,
        arranged_by="nurse-test",
    )
    await mark_requested(db_pool, course_id, 1, revision=revision, provider_id=None)
    clinic = api_settings(settings).model_copy(update={"twilio_from_number": CLINIC_NUMBER})
    async with api_client(clinic, client, db_pool) as http:
        elsewhere = await http.post(SMS_URL, **signed_sms("YES", driver_phone, to="+15550100999"))
        assert await rides_confirmed(db_pool, course_id) == {1: None}
        ours = await http.post(SMS_URL, **signed_sms("YES", driver_phone))

    assert (elsewhere.status_code, ours.status_code) == (200, 200)
    assert await rides_confirmed(db_pool, course_id) == {1: "driver_sms"}


async def ride_requested(pool: asyncpg.Pool, course_id: str, session: int) -> bool | None:
    requested = await pool.fetchval(
        "SELECT requested_at IS NOT NULL FROM transport_arrangements"
        " WHERE course_id = $1 AND session = $2",
        course_id,
        session,
    )
    return True if requested else None


async def rides_confirmed(pool: asyncpg.Pool, course_id: str) -> dict[int, str | None]:
    rows = await pool.fetch(
        "SELECT session, confirmed_via FROM transport_arrangements WHERE course_id = $1",
        course_id,
    )
    return {row["session"]: row["confirmed_via"] for row in rows}


async def test_without_a_twilio_token_the_webhook_is_unavailable(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> None:
    unset = api_settings(settings).model_copy(update={"twilio_auth_token": None})
    async with api_client(unset, client, db_pool) as api:
        response = await api.post(SMS_URL, **signed_sms("YES", "+15550100003"))

    assert response.status_code == 503


@pytest.mark.parametrize(
    ("url", "cache_control"),
    [
        ("/healthz", "no-store"),
        ("/v1/courses/c-1", "no-store"),  # a 401: no token
        ("/console", "no-store"),  # the sign-in page
        ("/console/assets/console.js", "no-cache"),  # a static file keeps its own
    ],
)
async def test_every_answer_carries_the_security_headers(
    api: httpx.AsyncClient, url: str, cache_control: str
) -> None:
    response = await api.get(url)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")
    assert response.headers["cache-control"] == cache_control
