"""Real local HTTP servers standing in for the providers: Twilio's Messages API, the REMS portal
and PagerDuty's Events API v2. They answer the way the real ones do, from a script of status
codes: the tests use them, and the page-latency bench points the pager adapter at one.
"""

from __future__ import annotations

import base64
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cli.localstack import served

TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "test-auth-token"
TWILIO_FROM = "+15550001111"
PORTAL_TOKEN = "test-portal-token"
PORTAL_PATH = "/rems/monitoring-forms"
PAGER_ROUTING_KEY = "0123456789abcdef0123456789abcdef"

# The Events API v2's answers other than 202, as its documentation shows them.
_PAGERDUTY_ERRORS: dict[int, dict[str, Any]] = {
    400: {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
    },
    429: {
        "status": "throttle exceeded",
        "message": "Requests for this service are arriving too quickly. Please retry later.",
    },
}

# Twilio's documented error codes for the answers the stand-in plays.
_TWILIO_ERRORS = {
    400: (21211, "Invalid 'To' Phone Number: {to}"),
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


@dataclass
class HttpProviders:
    """Twilio, the REMS portal and PagerDuty. `script` holds the status codes of the next
    answers; once empty, every request succeeds (201, or PagerDuty's 202)."""

    url: str = ""
    script: deque[int] = field(default_factory=deque)
    sms: list[dict[str, str]] = field(default_factory=list)
    """Form posts Twilio accepted (To, From, Body)."""
    forms: list[dict[str, Any]] = field(default_factory=list)
    """Forms the portal accepted."""
    form_headers: list[dict[str, str]] = field(default_factory=list)
    pager_events: list[dict[str, Any]] = field(default_factory=list)
    """Events PagerDuty accepted (trigger, acknowledge, resolve)."""
    on_pager_event: Callable[[dict[str, Any]], None] | None = None
    """Called with each accepted event as it arrives (the page-latency bench times them)."""
    requests: int = 0

    def answer_next(self, *statuses: int) -> None:
        self.script.extend(statuses)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/2010-04-01/Accounts/{sid}/Messages.json",
                    self._twilio_message,
                    methods=["POST"],
                ),
                Route(PORTAL_PATH, self._rems_form, methods=["POST"]),
                Route("/v2/enqueue", self._pager_event, methods=["POST"]),
            ]
        )

    def _next_status(self, success: int = 201) -> int:
        self.requests += 1
        return self.script.popleft() if self.script else success

    async def _twilio_message(self, request: Request) -> JSONResponse:
        expected = base64.b64encode(f"{TWILIO_ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}".encode()).decode()
        form = {k: str(v) for k, v in (await request.form()).items()}
        authorised = (
            request.path_params["sid"] == TWILIO_ACCOUNT_SID
            and request.headers.get("authorization") == f"Basic {expected}"
        )
        status = self._next_status() if authorised else 401
        if status != 201:
            code, message = _TWILIO_ERRORS[status]
            body = {
                "code": code,
                "message": message.format(to=form.get("To")),
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            }
            return JSONResponse(body, status_code=status)
        self.sms.append(form)
        sid = f"SM{uuid.uuid4().hex}"
        return JSONResponse(
            {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"]},
            status_code=201,
        )

    async def _rems_form(self, request: Request) -> JSONResponse:
        authorised = request.headers.get("authorization") == f"Bearer {PORTAL_TOKEN}"
        status = self._next_status() if authorised else 401
        if status != 201:
            return JSONResponse({"error": f"refused ({status})"}, status_code=status)
        self.forms.append(await request.json())
        self.form_headers.append(dict(request.headers))
        return JSONResponse({"submission_id": f"SUB-{uuid.uuid4().hex[:12]}"}, status_code=201)

    async def _pager_event(self, request: Request) -> JSONResponse:
        event = await request.json()
        routing_key = event.get("routing_key")
        status = self._next_status(202) if routing_key == PAGER_ROUTING_KEY else 400
        if status != 202:
            return JSONResponse(_PAGERDUTY_ERRORS[status], status_code=status)
        self.pager_events.append(event)
        if self.on_pager_event is not None:
            self.on_pager_event(event)
        dedup_key = event.get("dedup_key") or uuid.uuid4().hex
        return JSONResponse(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key},
            status_code=202,
        )


@asynccontextmanager
async def http_providers() -> AsyncIterator[HttpProviders]:
    providers = HttpProviders()
    async with served(providers.app()) as url:
        providers.url = url
        yield providers
