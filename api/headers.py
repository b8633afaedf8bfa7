"""Security headers on every answer of the API and the console, set once for all routes."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Browsers heed it over https only (behind the clinic's TLS proxy): https from then on.
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    # Answers carry PHI: no cache keeps them, unless a route says otherwise (static files).
    "Cache-Control": "no-store",
}


class SecurityHeaders(HttpMiddleware):
    """Adds each of `SECURITY_HEADERS` that the route has not set itself. Pure ASGI, so the
    console's event streams pass through unbuffered."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
