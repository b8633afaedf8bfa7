"""The pager webhook: PagerDuty's signature is checked before anything else, and an
acknowledgement in the pager app reaches the Escalation workflow, once per event, by the staff
member the PagerDuty user maps to, and only for the escalation's latest page."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from api import pagerduty
from cli.handles import escalation_handle
from cli.standins import PAGER_ROUTING_KEY
from domain.escalation import (
    AckChannel,
    Acknowledge,
    EscalationState,
    EscalationStatus,
    OnCallRole,
    PageAcknowledge,
    Reassign,
    Resolve,
)
from store.escalations import pager_pages
from store.oncall import Shift, add_shift
from tests.escalations import Paged, details, paged_escalation
from tests.http_api import PAGERDUTY_WEBHOOK_SECRET, api_client, api_settings
from worker.settings import Settings
from workflows.escalation import Escalation

URL = "/v1/webhooks/pager"
AGENT = "Dana Oncall"
USER = "PLH1HKV"
"""A PagerDuty user id that no shift names unless a test maps it."""
PAGER_ACTIONS = ("escalation.acknowledged_on_pager", "escalation.pager_ack_refused")
POLLS = 200


def event_id() -> str:
    """A fresh PagerDuty event id (their ids are 26 upper-case characters)."""
    return "01" + uuid.uuid4().hex[:24].upper()


def event(
    event_type: str,
    incident_key: str | None,
    user: str | None = USER,
    *,
    id: str | None = None,
) -> bytes:
    """A v3 webhook delivery, shaped like PagerDuty's (trimmed of fields trdflow ignores)."""
    body: dict[str, Any] = {
        "event": {
            "id": id or event_id(),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-03-03T15:05:00.000Z",
            "agent": None
            if user is None
            else {"id": user, "summary": AGENT, "type": "user_reference"},
            "client": None,
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "number": 2,
                "status": event_type.removeprefix("incident."),
                "incident_key": incident_key,
                "title": "Critical BP at the 40-minute check",
                "urgency": "high",
            },
        }
    }
    return json.dumps(body).encode()


def acked(incident_key: str, user: str | None = USER, *, id: str | None = None) -> bytes:
    return event("incident.acknowledged", incident_key, user, id=id)


async def mapped_nurse(pool: asyncpg.Pool, paged: Paged, clinic_id: str | None = None) -> str:
    """Name a PagerDuty user in a shift of the paged nurse (in the escalation's clinic unless
    told otherwise); returns the user's id."""
    staff_id = (await details(paged.handle)).pages[0].staff_id
    assert staff_id is not None
    user = "P" + uuid.uuid4().hex[:7].upper()
    now = datetime.now(UTC)
    await add_shift(
        pool,
        Shift(
            clinic_id=clinic_id or paged.trigger.clinic_id,
            role=OnCallRole.NURSE,
            staff_id=staff_id,
            display_name="Test Nurse",
            phone="+15550102001",
            pager_routing_key=PAGER_ROUTING_KEY,
            pager_user_id=user,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=30),
        ),
    )
    return user


async def pager_audit(pool: asyncpg.Pool, paged: Paged) -> list[tuple[str, str, dict[str, Any]]]:
    """The webhook's audit rows for the escalation: (actor, action, details)."""
    rows = await pool.fetch(
        "SELECT actor, action, details FROM audit_log WHERE course_id = $1 AND action = ANY($2)"
        " ORDER BY id",
        paged.trigger.course_id,
        list(PAGER_ACTIONS),
    )
    return [(row["actor"], row["action"], row["details"]) for row in rows]


async def deliveries(pool: asyncpg.Pool, id: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM webhook_events WHERE source = 'pagerduty' AND event_id = $1", id
    )
    return count


def signed(body: bytes, *signatures: str) -> dict[str, Any]:
    header = ",".join(signatures or (pagerduty.signature(PAGERDUTY_WEBHOOK_SECRET, body),))
    return {
        "content": body,
        "headers": {"Content-Type": "application/json", "X-PagerDuty-Signature": header},
    }


def test_the_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"event": {}}'
    # Computed independently: printf '{"event": {}}' | openssl dgst -sha256 -hmac secret
    expected = "v1=33eb44c7ba8d47c65801b2a7981b912330d4a3d210098efd16bd579d3e893299"
    assert pagerduty.signature("secret", body) == expected
    assert pagerduty.is_signed("secret", body, f"v1=00, {expected}")
    assert not pagerduty.is_signed("secret", body + b" ", expected)
    assert not pagerduty.is_signed("other", body, expected)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-PagerDuty-Signature": "v1=" + "0" * 64},
        {"X-PagerDuty-Signature": pagerduty.signature("guessed", event("pagey.ping", None))},
        {"X-PagerDuty-Signature": pagerduty.signature(PAGERDUTY_WEBHOOK_SECRET, b"{}")},
    ],
    ids=["unsigned", "zeros", "other-secret", "other-body"],
)
async def test_a_badly_signed_event_is_403(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await api.post(
        URL,
        content=event("incident.acknowledged", "escalation-x/page-1"),
        headers={"Content-Type": "application/json", **headers},
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "invalid X-PagerDuty-Signature"}


async def test_without_a_secret_the_webhook_is_unavailable(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> None:
    unset = api_settings(settings).model_copy(update={"pagerduty_webhook_secret": None})
    async with api_client(unset, client, db_pool) as api:
        response = await api.post(URL, **signed(event("incident.acknowledged", "x/page-1")))
    assert response.status_code == 503


@pytest.mark.parametrize(
    "body",
    [
        event("incident.acknowledged", "escalation-not-ours/page-1"),
        event("incident.acknowledged", None),
        event("incident.resolved", "escalation-x/page-1"),
        json.dumps({"event": {"event_type": "pagey.ping", "data": {"type": "ping"}}}).encode(),
    ],
    ids=["unknown-incident", "no-incident-key", "resolved", "ping"],
)
async def test_other_events_are_accepted_and_ignored(api: httpx.AsyncClient, body: bytes) -> None:
    response = await api.post(URL, **signed(body))
    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored"}


async def test_a_rotated_secret_still_verifies(api: httpx.AsyncClient) -> None:
    body = event("incident.triggered", None)
    good = pagerduty.signature(PAGERDUTY_WEBHOOK_SECRET, body)
    response = await api.post(URL, **signed(body, pagerduty.signature("old", body), good))
    assert response.status_code == 200


@pytest.mark.usefixtures("worker")
async def test_an_acknowledgement_on_the_pager_reaches_the_escalation(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    user = await mapped_nurse(db_pool, paged)
    nurse = (await details(paged.handle)).pages[0].staff_id
    first = event_id()

    response = await api.post(URL, **signed(acked(paged.page.dedup_key, user, id=first)))

    assert response.status_code == 200
    assert response.json() == {"outcome": "acknowledged"}
    state = await details(paged.handle)
    assert state.status is EscalationStatus.ACKNOWLEDGED
    # By the staff member, not by PagerDuty's display name.
    assert state.acknowledged == Acknowledge(by=nurse, via=AckChannel.PAGER)
    [(actor, action, audited)] = await pager_audit(db_pool, paged)
    assert (actor, action) == (nurse, "escalation.acknowledged_on_pager")
    assert (audited["dedup_key"], audited["page"], audited["event_id"]) == (
        paged.page.dedup_key,
        1,
        first,
    )

    # A second acknowledgement (another event): acknowledged already, refused and audited.
    again = await api.post(URL, **signed(acked(paged.page.dedup_key, user)))
    assert again.status_code == 200
    assert again.json() == {"outcome": "refused", "reason": "not_open"}
    assert [a for _, a, _ in await pager_audit(db_pool, paged)] == list(PAGER_ACTIONS)


@pytest.mark.usefixtures("worker")
async def test_the_same_event_delivered_twice_has_one_effect(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    user = await mapped_nurse(db_pool, paged)
    delivery = signed(acked(paged.page.dedup_key, user, id=(once := event_id())))

    # PagerDuty retries a delivery it did not see answered: both may arrive at once.
    both = await asyncio.gather(api.post(URL, **delivery), api.post(URL, **delivery))
    later = await api.post(URL, **delivery)

    assert [r.status_code for r in (*both, later)] == [200, 200, 200]
    outcomes = sorted(r.json()["outcome"] for r in both)
    assert outcomes == ["acknowledged", "duplicate"]
    assert later.json() == {"outcome": "duplicate"}
    # One audit row of the webhook, one acknowledgement step of the workflow, one claim.
    assert [a for _, a, _ in await pager_audit(db_pool, paged)] == [PAGER_ACTIONS[0]]
    steps = await db_pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE course_id = $1 AND action = $2",
        paged.trigger.course_id,
        "escalation.acknowledged",
    )
    assert steps == 1
    assert await deliveries(db_pool, once) == 1


@pytest.mark.usefixtures("worker")
async def test_a_stale_acknowledgement_of_an_earlier_page_acknowledges_nothing(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    user = await mapped_nurse(db_pool, paged)
    nurse = (await details(paged.handle)).pages[0].staff_id
    assert nurse is not None
    acknowledged = await api.post(URL, **signed(acked(paged.page.dedup_key, user)))
    assert acknowledged.json() == {"outcome": "acknowledged"}

    # Reassigned: open again, and paged anew (page 2) for the assignee to acknowledge.
    reassign = Reassign(by=nurse, to_staff=nurse)
    await typed(client, paged).execute_update(Escalation.reassign, reassign)
    page_2 = await nth_pager_page(db_pool, paged, 2)
    # Page 1's incident re-triggers at PagerDuty and is acknowledged again: a new event.
    stale = await api.post(URL, **signed(acked(paged.page.dedup_key, user)))

    assert stale.status_code == 200
    assert stale.json() == {"outcome": "refused", "reason": "stale_page"}
    state = await details(paged.handle)
    assert state.status is EscalationStatus.OPEN and state.acknowledged is None
    refused = (await pager_audit(db_pool, paged))[-1]
    assert refused[:2] == (nurse, "escalation.pager_ack_refused")
    assert (refused[2]["reason"], refused[2]["page"]) == ("stale_page", 1)

    # The latest page's acknowledgement is the one that counts.
    current = await api.post(URL, **signed(acked(page_2, user)))
    assert current.json() == {"outcome": "acknowledged"}
    assert (await details(paged.handle)).status is EscalationStatus.ACKNOWLEDGED


@pytest.mark.usefixtures("worker")
async def test_a_late_acknowledgement_of_a_resolved_occurrence_is_refused(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    user = await mapped_nurse(db_pool, paged)
    await typed(client, paged).execute_update(
        Escalation.resolve, Resolve(by="dr-test", note="BP back under 160/100")
    )

    late = await api.post(URL, **signed(acked(paged.page.dedup_key, user)))

    assert late.status_code == 200
    assert late.json() == {"outcome": "refused", "reason": "not_open"}
    assert (await details(paged.handle)).status is EscalationStatus.RESOLVED


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("who", ["unknown-user", "no-agent", "other-clinic"])
async def test_an_acknowledgement_by_an_unmapped_user_is_refused(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool, who: str
) -> None:
    paged = await paged_escalation(client, db_pool)
    user: str | None = USER
    if who == "no-agent":
        user = None
    elif who == "other-clinic":
        user = await mapped_nurse(db_pool, paged, clinic_id=f"{paged.trigger.clinic_id}-b")

    response = await api.post(URL, **signed(acked(paged.page.dedup_key, user)))

    assert response.status_code == 200
    assert response.json() == {"outcome": "refused", "reason": "unmapped_user"}
    state = await details(paged.handle)
    assert state.status is EscalationStatus.OPEN and state.acknowledged is None
    [(actor, action, audited)] = await pager_audit(db_pool, paged)
    assert (actor, action, audited["reason"]) == ("pager", PAGER_ACTIONS[1], "unmapped_user")
    assert audited["pager_user_id"] == user


@pytest.mark.usefixtures("worker")
async def test_the_escalation_takes_a_pager_acknowledgement_of_its_latest_page_only(
    client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    escalation_id = paged.page.escalation_id

    for wrong in (
        PageAcknowledge(by="nurse-x", escalation_id=escalation_id, page=2),  # not sent
        PageAcknowledge(by="nurse-x", escalation_id=f"{escalation_id}-2", page=1),
    ):
        with pytest.raises(WorkflowUpdateFailedError):
            await typed(client, paged).execute_update(Escalation.acknowledge_page, wrong)
    assert (await details(paged.handle)).status is EscalationStatus.OPEN

    right = PageAcknowledge(by="nurse-x", escalation_id=escalation_id, page=1)
    state = await typed(client, paged).execute_update(Escalation.acknowledge_page, right)
    assert state.acknowledged == Acknowledge(by="nurse-x", via=AckChannel.PAGER)


def typed(client: Client, paged: Paged) -> WorkflowHandle[Escalation, EscalationState]:
    return escalation_handle(client, paged.page.escalation_id)


async def nth_pager_page(pool: asyncpg.Pool, paged: Paged, n: int) -> str:
    """The dedup key of the escalation's n-th page to the pager service, once it is sent."""
    for _ in range(POLLS):
        pages = await pager_pages(pool, paged.page.escalation_id)
        if len(pages) >= n:
            return pages[n - 1].dedup_key
        await asyncio.sleep(0.05)
    raise AssertionError(f"{paged.page.escalation_id} sent fewer than {n} pages")
