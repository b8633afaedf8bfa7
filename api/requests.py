"""Each request's context, set once for all routes: its id on every log line it writes (and on
its answer), and its span, the root of the trace that follows it into the workflows and the
activities it reaches."""

from __future__ import annotations

import re
import uuid

import structlog
from fastapi.telemetry import TelemetryConfig
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware
from worker.tracing import tracer

REQUEST_ID = "X-Request-ID"
_CALLERS_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""A caller's own request id is kept if it looks like one; anything else could be free text."""
FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "logs": False}
"""FastAPI's own spans record the path and query as sent (an SSO callback's code), and its logs
the input of a refused request: off, wherever a tracer provider is set. The API opens its
request spans itself (`RequestContext`), with an allowlist of attributes."""
_TRACE_CONTEXT = TraceContextTextMapPropagator()
"""`traceparent` and `tracestate` only: a caller's baggage would travel on in Temporal's
headers, which are not encrypted."""


class RequestContext(HttpMiddleware):
    """Binds `request_id` (the caller's `X-Request-ID`, else a new one) for the request's log
    lines and answers with it; opens the request's server span, a child of the caller's
    `traceparent` if it sent one. The span names the route's template, never its ids or query."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        given = headers.get(REQUEST_ID)
        request_id = given if given and _CALLERS_ID.fullmatch(given) else uuid.uuid4().hex
        method = scope["method"]
        status = 500  # unless an answer starts

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID] = request_id
            await send(message)

        with (
            structlog.contextvars.bound_contextvars(request_id=request_id),
            tracer().start_as_current_span(
                method,
                context=_TRACE_CONTEXT.extract(headers),
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "trdflow.request_id": request_id},
            ) as span,
        ):
            try:
                await self.app(scope, receive, answer)
            finally:
                route = scope.get("route")
                if isinstance(route, Route):
                    span.update_name(f"{method} {route.path}")
                    span.set_attribute("http.route", route.path)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
