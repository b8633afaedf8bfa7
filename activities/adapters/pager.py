"""Pages through the PagerDuty Events API v2.

`POST {base}/v2/enqueue` with JSON `{"routing_key", "event_action", "dedup_key", "payload"}`:
`event_action` is trigger, acknowledge or resolve, and only a trigger has a payload
`{"summary", "source", "severity", "component", "custom_details"}` (severity critical, error,
warning or info; the summary at most 1024 characters). The routing key, the integration key of
the paged person's PagerDuty service, is the only credential. Answers: 202
`{"status": "success", "message": "Event processed", "dedup_key"}`; 400
`{"status": "invalid event", "message", "errors": [...]}`, a refusal; 429 when events come
too fast, and 5xx, both worth retrying.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import httpx

from activities.adapters.errors import answer_json, connection_failure, http_failure
from activities.adapters.ports import PagerAlert
from domain.escalation import PagerAction, Severity

TIMEOUT = httpx.Timeout(10.0)
SUMMARY_LIMIT = 1024

SEVERITIES: Mapping[Severity, Literal["critical", "error", "warning"]] = {
    Severity.CRITICAL: "critical",
    Severity.URGENT: "error",
    Severity.ROUTINE: "warning",
}


class PagerDutyEvents:
    provider = "pagerduty"

    def __init__(self, *, events_base: str) -> None:
        self._url = f"{events_base.rstrip('/')}/v2/enqueue"
        # One client for the worker's life: its TLS context and connections are built once.
        self._http = httpx.AsyncClient(timeout=TIMEOUT)

    async def trigger(self, alert: PagerAlert) -> str:
        payload: dict[str, object] = {
            "summary": alert.summary[:SUMMARY_LIMIT],
            "source": alert.source,
            "severity": alert.severity,
            "component": alert.component,
            "custom_details": dict(alert.details),
        }
        return await self._enqueue(alert.routing_key, "trigger", alert.dedup_key, payload)

    async def update(self, routing_key: str, dedup_key: str, action: PagerAction) -> str:
        return await self._enqueue(routing_key, action.value, dedup_key)

    async def _enqueue(
        self,
        routing_key: str,
        action: str,
        dedup_key: str,
        payload: dict[str, object] | None = None,
    ) -> str:
        event: dict[str, object] = {
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": dedup_key,
        }
        if payload is not None:
            event["payload"] = payload
        try:
            response = await self._http.post(self._url, json=event)
        except httpx.TransportError as err:
            raise connection_failure(self.provider, err) from err
        answer = answer_json(response)
        if response.status_code != httpx.codes.ACCEPTED:
            # `status` is the service's fixed code ("invalid event"); `errors` may quote input.
            raise http_failure(self.provider, response, answer.get("status"))
        accepted: str = answer.get("dedup_key") or dedup_key
        return accepted
