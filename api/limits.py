"""Limits on what a request may carry, applied before any route sees it.

* A body larger than `MAX_BODY_BYTES` is refused (413) unread: a declared length at once, a
  streamed one as soon as it passes the cap.
* A JSON or form body whose strings hold NUL or other control characters (tab, newline and
  carriage return aside) is refused (422, naming where): PostgreSQL cannot store NUL, and an
  activity that tried would fail for ever.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware

MAX_BODY_BYTES = 64 * 1024
"""Far above any message of the contract; the codec server, which carries history, has its
own."""

_ALLOWED_CONTROLS = frozenset("\t\n\r")


class RequestLimits(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _too_large(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await _too_large(scope, receive, send)
                return
        where = _control_character(bytes(body), headers.get("content-type", ""))
        if where is not None:
            problem = {"loc": ["body", *where], "msg": "control characters are not allowed"}
            answer = JSONResponse(
                {"detail": [{**problem, "type": "string_control_character"}]}, 422
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body, read once here, handed to the app as one message; then the server's own
    messages (a disconnect, which a stream waits for)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    detail = f"the body is larger than {MAX_BODY_BYTES} bytes"
    await JSONResponse({"detail": detail}, 413)(scope, receive, send)


def _control_character(body: bytes, content_type: str) -> list[str | int] | None:
    """Where the first string with a control character is; None if there is none (or the
    body is not JSON or a form: the route's own parsing judges it)."""
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/json":
        try:
            document = json.loads(body)
        except ValueError:
            return None  # the route answers 422 for it
        return next(_strings_with_controls(document, []), None)
    if media == "application/x-www-form-urlencoded":
        for name, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if _has_control(name) or _has_control(value):
                return [name]
    return None


def _strings_with_controls(node: object, path: list[str | int]) -> Iterator[list[str | int]]:
    if isinstance(node, str):
        if _has_control(node):
            yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            if _has_control(key):
                yield [*path, key]
            yield from _strings_with_controls(value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings_with_controls(value, [*path, index])


def _has_control(text: str) -> bool:
    return any(
        (ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0) and char not in _ALLOWED_CONTROLS
        for char in text
    )
