"""The console's pages and assets, from package data; no build step, nothing from a CDN.

Pages are `string.Template`s with every value HTML-escaped; the data itself reaches the page
as JSON and the script writes it as text, never as markup.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files
from string import Template

from fastapi import status
from fastapi.responses import HTMLResponse, Response

ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}

PAGE_HEADERS = {
    # The rest (no-store, nosniff, no referrer, no framing) comes from `api.headers`.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def sign_in_page(
    error: str = "", code: int = status.HTTP_200_OK, *, sso: bool = False
) -> HTMLResponse:
    """The sign-in form; with `sso`, the link to sign in through the identity provider too."""
    return _page("sign-in.html", code, error=error, sso_hidden="" if sso else "hidden")


def console_page(actor: str, csrf_token: str) -> HTMLResponse:
    return _page("console.html", status.HTTP_200_OK, actor=actor, csrf=csrf_token)


def asset(name: str) -> Response | None:
    media_type = ASSETS.get(name)
    if media_type is None:
        return None
    headers = {"Cache-Control": "no-cache"}  # static: revalidated, never stale
    return Response(_read(name), media_type=media_type, headers=headers)


def _page(name: str, code: int, **values: str) -> HTMLResponse:
    html = Template(_read(name)).substitute({key: escape(v) for key, v in values.items()})
    return HTMLResponse(html, status_code=code, headers=PAGE_HEADERS)


@cache
def _read(name: str) -> str:
    return (files("api.console") / "static" / name).read_text(encoding="utf-8")
