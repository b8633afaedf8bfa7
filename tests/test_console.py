"""The on-call console over HTTP: sign-in, the cookie and CSRF rules, the list and its live
stream. Escalation rows are written with the store's own upsert, as the workflow writes them;
the browser test (test_console_browser.py) drives the whole path from a reading."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from cli.localstack import quiet, served
from domain.escalation import (
    AckChannel,
    Acknowledge,
    EscalationStatus,
    OnCallRole,
    Reassign,
    Severity,
)
from domain.vitals import VitalSigns
from store import escalations
from tests.console_rows import course_with_reading, next_snapshot, seed
from tests.escalations import details, nurse_on_call, paged_escalation
from tests.http_api import api_settings, token_of
from worker.settings import Settings

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


# --- Helpers -----------------------------------------------------------------------------------


async def sign_in(http: httpx.AsyncClient, actor: str = "nurse-test") -> str:
    """Sign `http` in to the console as `actor`; returns the page's CSRF token."""
    response = await http.post("/console/sign-in", data={"token": token_of(actor)})
    assert response.status_code == 303, response.text
    page = await http.get("/console")
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def listed(snapshot: dict[str, Any], ids: list[str]) -> list[dict[str, Any]]:
    """The listed escalations among `ids`, in the listed order (other tests add their own)."""
    return [e for e in snapshot["escalations"] if e["escalation_id"] in ids]


async def audit_actions(pool: asyncpg.Pool, actor: str) -> list[str]:
    rows = await pool.fetch("SELECT action FROM audit_log WHERE actor = $1 ORDER BY id", actor)
    return [row["action"] for row in rows]


@pytest.fixture
async def live_console(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    """The API served by uvicorn (a stream needs a real server), with an HTTP client of it."""
    app = create_app(api_settings(settings), client, db_pool)
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


# --- Sign-in -----------------------------------------------------------------------------------


async def test_signed_out_sees_the_sign_in_page_and_no_data(api: httpx.AsyncClient) -> None:
    page = await api.get("/console")

    assert page.status_code == 200
    assert 'action="/console/sign-in"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    for url in ("/console/escalations", "/console/events"):
        assert (await api.get(url)).status_code == 401


async def test_staff_sign_in_sets_a_strict_http_only_cookie(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    response = await api.post("/console/sign-in", data={"token": token_of("dr-test")})

    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = response.headers["set-cookie"].lower()
    assert {"httponly", "samesite=strict", "path=/console"} <= {
        part.strip() for part in cookie.split(";")
    }
    page = await api.get("/console")
    assert "Signed in as <strong>dr-test</strong>" in page.text
    assert CSRF.search(page.text)
    assert (await api.get("/console/escalations")).status_code == 200
    assert "console.signed_in" in await audit_actions(db_pool, "dr-test")


@pytest.mark.parametrize(
    ("token", "code", "reason"),
    [
        ("not-a-token", 401, "not valid"),
        (token_of("gateway-test"), 403, "may not handle escalations"),
    ],
)
async def test_sign_in_refuses_unknown_and_service_tokens(
    api: httpx.AsyncClient, token: str, code: int, reason: str
) -> None:
    response = await api.post("/console/sign-in", data={"token": token})

    assert response.status_code == code
    assert reason in response.text
    assert "set-cookie" not in response.headers


async def test_a_sign_in_posted_from_another_site_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/console/sign-in",
        data={"token": token_of("nurse-test")},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_actions_and_sign_out_need_the_sessions_csrf_token(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    escalation_id = await seed(db_pool, Severity.URGENT, 1)
    csrf = await sign_in(api)
    url = f"/console/escalations/{escalation_id}/acknowledge"

    missing = await api.post(url, json={})
    wrong = await api.post(url, json={}, headers={"X-CSRF-Token": csrf[::-1]})
    sign_out = await api.post("/console/sign-out", data={})

    assert (missing.status_code, wrong.status_code, sign_out.status_code) == (403, 403, 403)
    assert (await api.get("/console/escalations")).status_code == 200


async def test_sign_out_ends_the_session_and_is_audited(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    csrf = await sign_in(api, "dr-test")

    response = await api.post("/console/sign-out", data={"csrf": csrf})

    assert response.status_code == 303
    assert (await api.get("/console/escalations")).status_code == 401
    assert (await audit_actions(db_pool, "dr-test"))[-1] == "console.signed_out"


async def test_an_unknown_escalation_is_not_acted_on(api: httpx.AsyncClient) -> None:
    csrf = await sign_in(api)

    # Only rows of the escalations table are acted on, whatever workflow an id names.
    response = await api.post(
        "/console/escalations/course-c-1/acknowledge", json={}, headers={"X-CSRF-Token": csrf}
    )

    assert response.status_code == 404


async def test_assets_are_served_locally(api: httpx.AsyncClient) -> None:
    script = await api.get("/console/assets/console.js")
    style = await api.get("/console/assets/console.css")

    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.headers["content-type"].startswith("text/css")
    assert (await api.get("/console/assets/secrets.json")).status_code == 404


# --- The list ----------------------------------------------------------------------------------


async def test_lists_unresolved_escalations_most_severe_then_newest_with_the_reading(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    taken_at = datetime.now(UTC)
    signs = VitalSigns(taken_at=taken_at, systolic=205, diastolic=125, heart_rate=96)
    course_id, reading_id = await course_with_reading(db_pool, signs)
    routine = await seed(db_pool, Severity.ROUTINE, 1)
    old_critical = await seed(db_pool, Severity.CRITICAL, 30)
    new_critical = await seed(
        db_pool, Severity.CRITICAL, 2, reading_id=reading_id, course_id=course_id
    )
    resolved = await seed(
        db_pool, Severity.CRITICAL, 0, step="resolved", status=EscalationStatus.RESOLVED
    )
    await sign_in(api)

    snapshot = (await api.get("/console/escalations")).json()

    shown = listed(snapshot, [routine, old_critical, new_critical, resolved])
    assert [e["escalation_id"] for e in shown] == [new_critical, old_critical, routine]
    newest = shown[0]
    assert newest["reading"]["systolic"] == 205
    assert newest["reading"]["diastolic"] == 125
    assert (newest["course_id"], newest["phase"], newest["session"]) == (course_id, "induction", 3)
    assert shown[1]["reading"] is None
    # Vitals and the course's pseudonym only: nothing of the patient's identity.
    text = json.dumps(snapshot)
    assert "Alex Example" not in text
    assert date(1980, 5, 17).isoformat() not in text
    assert f"ref-{course_id}" not in text


async def test_the_event_stream_sends_the_list_then_each_change(
    live_console: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    await sign_in(live_console)

    async with live_console.stream("GET", "/console/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        first = await next_snapshot(lines)
        escalation_id = await seed(db_pool, Severity.CRITICAL, 0)
        second = await next_snapshot(lines)

    assert not listed(first, [escalation_id])
    assert [e["status"] for e in listed(second, [escalation_id])] == ["open"]


async def test_a_lost_listener_ends_the_stream_and_the_next_one_listens_anew(
    live_console: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    await sign_in(live_console)

    async with live_console.stream("GET", "/console/events") as stream:
        lines = stream.aiter_lines()
        await next_snapshot(lines)
        killed = await db_pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query = 'LISTEN \"escalations\"'"
        )
        # The browser's EventSource reconnects when a stream ends; this one must end.
        rest = [line async for line in lines]

    async with live_console.stream("GET", "/console/events") as stream:
        lines = stream.aiter_lines()
        await next_snapshot(lines)
        escalation_id = await seed(db_pool, Severity.ROUTINE, 0)
        after = await next_snapshot(lines)

    assert killed == 1
    assert not any(line.startswith("data:") for line in rest)
    assert listed(after, [escalation_id])


# --- Acting on a real Escalation workflow --------------------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_staff_acknowledge_then_resolve_from_the_console(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    escalation_id = paged.handle.id
    csrf = {"X-CSRF-Token": await sign_in(api, "dr-test")}
    url = f"/console/escalations/{escalation_id}"

    acknowledged = await api.post(f"{url}/acknowledge", json={}, headers=csrf)
    no_note = await api.post(f"{url}/resolve", json={"note": ""}, headers=csrf)
    resolved = await api.post(f"{url}/resolve", json={"note": "BP rechecked, seen"}, headers=csrf)
    late = await api.post(f"{url}/acknowledge", json={}, headers=csrf)

    assert acknowledged.status_code == 200, acknowledged.text
    assert no_note.status_code == 422
    assert no_note.json()["detail"][0]["loc"] == ["body", "note"]
    assert resolved.status_code == 200, resolved.text
    assert late.status_code == 409
    assert late.json()["detail"]
    await quiet(client, escalation_id)
    state = await details(paged.handle)
    assert state.acknowledged == Acknowledge(by="dr-test", via=AckChannel.CONSOLE)
    assert state.resolved is not None
    assert state.resolved.by == "dr-test"
    # Beside the workflow's own entries for each step, the console's requests.
    actions = set(await audit_actions(db_pool, "dr-test"))
    assert {"escalation.acknowledged_on_console", "escalation.resolved_on_console"} <= actions


# --- Clinics, counts and the wait at the current rung ------------------------------------------


async def test_the_list_filters_to_one_clinic_counts_by_severity_and_dates_the_rung(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    clinic, other = f"clinic-{uuid.uuid4().hex[:8]}", f"clinic-{uuid.uuid4().hex[:8]}"
    critical = await seed(db_pool, Severity.CRITICAL, 30, clinic_id=clinic, paged_minutes_ago=12)
    urgent = await seed(db_pool, Severity.URGENT, 5, clinic_id=clinic)
    elsewhere = await seed(db_pool, Severity.CRITICAL, 1, clinic_id=other)
    await sign_in(api)

    everything = (await api.get("/console/escalations")).json()
    one = (await api.get("/console/escalations", params={"clinic": clinic})).json()

    assert everything["clinic"] is None
    assert {clinic, other} <= set(everything["clinics"])
    assert {critical, urgent, elsewhere} <= {e["escalation_id"] for e in everything["escalations"]}
    assert one["clinic"] == clinic
    assert [e["escalation_id"] for e in one["escalations"]] == [critical, urgent]
    assert one["counts"] == {"critical": 1, "urgent": 1, "routine": 0}
    assert sum(everything["counts"].values()) == len(everything["escalations"])
    # The rung began with the page 12 minutes ago; before any page, with the raising.
    now = datetime.fromisoformat(one["now"])
    waited = [now - datetime.fromisoformat(e["rung_since"]) for e in one["escalations"]]
    assert timedelta(minutes=12) <= waited[0] < timedelta(minutes=13)
    assert timedelta(minutes=5) <= waited[1] < timedelta(minutes=6)
    assert (
        await api.get("/console/escalations", params={"clinic": "Not A Ref"})
    ).status_code == 422


async def test_the_event_stream_follows_one_clinic(
    live_console: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    clinic = f"clinic-{uuid.uuid4().hex[:8]}"
    await sign_in(live_console)

    async with live_console.stream("GET", f"/console/events?clinic={clinic}") as stream:
        lines = stream.aiter_lines()
        first = await next_snapshot(lines)
        await seed(db_pool, Severity.CRITICAL, 0)  # another clinic's: a change all the same
        theirs = await seed(db_pool, Severity.ROUTINE, 0, clinic_id=clinic)
        latest = first
        while not latest["escalations"]:
            latest = await next_snapshot(lines)

    assert (first["clinic"], first["escalations"]) == (clinic, [])
    assert [e["escalation_id"] for e in latest["escalations"]] == [theirs]
    assert latest["counts"] == {"critical": 0, "urgent": 0, "routine": 1}


# --- Reassigning --------------------------------------------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_staff_reassign_to_someone_on_call_once_however_often_it_is_sent(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    escalation_id, clinic = paged.handle.id, paged.trigger.clinic_id
    psychiatrist = f"psych-{uuid.uuid4().hex[:8]}"
    await nurse_on_call(db_pool, clinic, psychiatrist, OnCallRole.PSYCHIATRIST)
    csrf = await sign_in(api, "dr-test")
    url = f"/console/escalations/{escalation_id}/reassign"
    headers = {"X-CSRF-Token": csrf, "Idempotency-Key": uuid.uuid4().hex}
    body = {"to_staff": psychiatrist, "to_role": "on_call_psychiatrist"}

    nurse = paged.nurse

    on_call = (await api.get("/console/on-call", params={"clinic": clinic})).json()
    first = await api.post(url, json=body, headers=headers)
    again = await api.post(url, json=body, headers=headers)

    assert [(p["staff_id"], p["role"]) for p in on_call] == [
        (nurse, "on_call_nurse"),
        (psychiatrist, "on_call_psychiatrist"),
    ]
    assert all(set(p) == {"staff_id", "display_name", "role"} for p in on_call)  # no phone
    assert (first.status_code, again.status_code) == (200, 200), first.text
    await quiet(client, escalation_id)
    state = await details(paged.handle)
    assert state.reassigned == Reassign(
        by="dr-test", to_staff=psychiatrist, to_role=OnCallRole.PSYCHIATRIST
    )
    # Reassigned once: one more page, to the psychiatrist, and the row assigned to them.
    assert [(p.attempt, p.staff_id) for p in state.pages][1:] == [(2, psychiatrist)]
    row = await escalations.get(db_pool, escalation_id)
    assert row is not None and row.assigned_to == psychiatrist
    assert row.rung_since >= state.pages[1].at > state.pages[0].at
    stages = await db_pool.fetch(
        "SELECT stage FROM audit_log WHERE action = 'escalation.reassigned_on_console' "
        "AND actor = 'dr-test' AND details->>'escalation_id' = $1 ORDER BY id",
        escalation_id,
    )
    assert [r["stage"] for r in stages] == ["intent", "done"]
    steps = await db_pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'escalation.reassigned' "
        "AND details->>'escalation_id' = $1",
        escalation_id,
    )
    assert steps == 1


@pytest.mark.usefixtures("worker")
async def test_a_reassignment_to_someone_not_on_call_is_bad_input_and_sends_nothing(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    escalation_id = paged.handle.id
    nurse = paged.nurse
    elsewhere = f"psych-{uuid.uuid4().hex[:8]}"
    await nurse_on_call(
        db_pool, f"clinic-{uuid.uuid4().hex[:8]}", elsewhere, OnCallRole.PSYCHIATRIST
    )
    csrf = {"X-CSRF-Token": await sign_in(api, "dr-test")}
    url = f"/console/escalations/{escalation_id}/reassign"

    answers = [
        await api.post(url, json=body, headers=csrf)
        for body in (
            {"to_staff": elsewhere},  # on call, at another clinic
            {"to_staff": "nobody-here"},
            {"to_staff": nurse, "to_role": "medical_director"},  # on call, in another role
            {"to_staff": ""},
            {"to_staff": nurse, "to_role": "janitor"},
            {"to_staff": nurse, "extra": 1},
            {},
        )
    ]

    assert [a.status_code for a in answers] == [422] * 7
    assert answers[0].json()["detail"] == [
        {
            "loc": ["body", "to_staff"],
            "msg": "not on call at this clinic now",
            "type": "value_error",
        }
    ]
    assert answers[2].json()["detail"][0]["msg"] == "on call at this clinic now in another role"
    sent = await db_pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'escalation.reassigned_on_console' "
        "AND details->>'escalation_id' = $1",
        escalation_id,
    )
    assert sent == 0
    await quiet(client, escalation_id)
    assert (await details(paged.handle)).reassigned is None
    # Resolved, it is no longer anyone's to take: the workflow refuses.
    resolved = await api.post(
        f"/console/escalations/{escalation_id}/resolve", json={"note": "seen"}, headers=csrf
    )
    late = await api.post(url, json={"to_staff": nurse}, headers=csrf)
    assert (resolved.status_code, late.status_code) == (200, 409)
