"""Who is at the console: the server-side session behind the cookie, the CSRF token and the
same-origin check.

* The cookie holds a random secret naming a row of `console_sessions`: HttpOnly,
  SameSite=Strict, scoped to /console, Secure over https. Signing out, revoking the token the
  session was opened with, 30 idle minutes or 12 hours end it (`store.console_sessions`).
* Every POST must come from the console's own pages (`Sec-Fetch-Site`, which browsers set and
  pages cannot) and, once signed in, carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, Response, status

from api.console.live import LiveFeed
from api.console.sso import SingleSignOn
from api.console.throttle import SignInThrottle
from api.context import Ctx
from store.console_sessions import LIFETIME, ConsoleSession, find

COOKIE = "trdflow_console"
PATH = "/console"
CSRF_HEADER = "X-CSRF-Token"
SAME_ORIGIN = frozenset({"same-origin", "none"})


@dataclass(frozen=True)
class ConsoleContext:
    feed: LiveFeed
    throttle: SignInThrottle
    sso: SingleSignOn | None
    """Single sign-on, where an identity provider is configured."""


def get_console(request: Request) -> ConsoleContext:
    console: ConsoleContext = request.app.state.console
    return console


Console = Annotated[ConsoleContext, Depends(get_console)]


async def current_session(request: Request, ctx: Ctx) -> ConsoleSession | None:
    cookie = request.cookies.get(COOKIE)
    return await find(ctx.pool, cookie) if cookie else None


MaybeSignedIn = Annotated[ConsoleSession | None, Depends(current_session)]


def signed_in(session: MaybeSignedIn) -> ConsoleSession:
    if session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in to the console")
    return session


SignedIn = Annotated[ConsoleSession, Depends(signed_in)]


def same_origin(
    sec_fetch_site: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """Refuse a POST that a browser says came from another site (login CSRF included)."""
    if sec_fetch_site is not None and sec_fetch_site not in SAME_ORIGIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")


def acting(
    session: SignedIn,
    x_csrf_token: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ConsoleSession:
    """A signed-in action from a console page: it carries the session's CSRF token."""
    require_csrf(session, x_csrf_token)
    return session


Acting = Annotated[ConsoleSession, Depends(acting)]


def require_csrf(session: ConsoleSession, presented: str | None) -> None:
    if presented is None or not hmac.compare_digest(presented, session.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def set_cookie(response: Response, value: str, ctx: Ctx, request: Request) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(LIFETIME.total_seconds()),
        path=PATH,
        secure=_https(ctx, request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(response: Response, ctx: Ctx, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, secure=_https(ctx, request), httponly=True, samesite="strict"
    )


def _https(ctx: Ctx, request: Request) -> bool:
    public = ctx.settings.public_url
    return request.url.scheme == "https" or (public is not None and public.startswith("https:"))
