"""The pager webhook: PagerDuty's signature is checked before anything else, and an
acknowledgement in the pager app reaches the Escalation workflow."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from api import pagerduty
from domain.escalation import AckChannel, EscalationStatus
from tests.escalations import details, paged_escalation
from tests.http_api import PAGERDUTY_WEBHOOK_SECRET, api_client, api_settings
from worker.settings import Settings

URL = "/v1/webhooks/pager"
AGENT = "Dana Oncall"


def event(event_type: str, incident_key: str | None, agent: str | None = AGENT) -> bytes:
    """A v3 webhook delivery, shaped like PagerDuty's (trimmed of fields trdflow ignores)."""
    body: dict[str, Any] = {
        "event": {
            "id": "01DEN4HPBQAAAG05V5QQYBRZMF",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-03-03T15:05:00.000Z",
            "agent": None
            if agent is None
            else {"id": "PLH1HKV", "summary": agent, "type": "user_reference"},
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

    response = await api.post(URL, **signed(event("incident.acknowledged", paged.page.dedup_key)))

    assert response.status_code == 200
    assert response.json() == {"outcome": "acknowledged"}
    state = await details(paged.handle)
    assert state.status is EscalationStatus.ACKNOWLEDGED
    assert state.acknowledged is not None
    assert (state.acknowledged.by, state.acknowledged.via) == (AGENT, AckChannel.PAGER)
    audit = await db_pool.fetch(
        "SELECT actor, details FROM audit_log WHERE action = 'escalation.acknowledged_on_pager' "
        "AND course_id = $1",
        paged.trigger.course_id,
    )
    assert [(a["actor"], a["details"]["dedup_key"]) for a in audit] == [
        (AGENT, paged.page.dedup_key)
    ]

    # PagerDuty delivers again (or a second person acknowledges): already acknowledged.
    again = await api.post(URL, **signed(event("incident.acknowledged", paged.page.dedup_key)))
    assert again.json() == {"outcome": "ignored"}


@pytest.mark.usefixtures("worker")
async def test_an_acknowledgement_without_an_agent_is_by_the_pager(
    api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)

    response = await api.post(
        URL, **signed(event("incident.acknowledged", paged.page.dedup_key, agent=None))
    )

    assert response.json() == {"outcome": "acknowledged"}
    state = await details(paged.handle)
    assert state.acknowledged is not None and state.acknowledged.by == "pager"
