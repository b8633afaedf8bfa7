"""The console's routes (a browser page, so left out of the API's OpenAPI document).

Staff sign in with their token, which is exchanged for a server-side session (a cookie); the page
then reads `/console/escalations`, follows `/console/events` (Server-Sent Events) and posts
acknowledge and resolve, which become the Escalation workflow's Updates, by the signed-in
staff member, audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel

from api.actions import Action, send_action
from api.audit import audited
from api.console.access import (
    COOKIE,
    Acting,
    Console,
    ConsoleContext,
    MaybeSignedIn,
    SignedIn,
    clear_cookie,
    require_csrf,
    same_origin,
    set_cookie,
)
from api.console.listing import Snapshot, snapshot
from api.console.pages import asset, console_page, sign_in_page
from api.context import ApiContext, Ctx
from api.errors import WorkflowNotFoundError, build
from domain.access import Identity, Permission
from domain.escalation import AckChannel, Acknowledge, Resolve
from store import escalations, tokens
from store.audit import record_audit
from store.console_sessions import ConsoleSession, open_session
from store.console_sessions import end as end_session
from store.console_sessions import find as find_session
from workflows.escalation import Escalation

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)

KEEPALIVE_S = 15.0
"""An SSE comment this often keeps proxies from closing a quiet stream."""
RECONNECT_MS = 3000


class ResolveRequest(BaseModel):
    """What was done; the domain's `Resolve` holds the note's rules."""

    note: str


@router.get("")
async def page(session: MaybeSignedIn) -> Response:
    if session is None:
        return sign_in_page()
    return console_page(session.identity.actor, session.csrf_token)


@router.post("/sign-in", dependencies=[Depends(same_origin)])
async def sign_in(
    token: Annotated[str, Form(max_length=500)], request: Request, ctx: Ctx, console: Console
) -> Response:
    client = request.client.host if request.client else "unknown"
    if console.throttle.blocked(client):
        log.warning("console_sign_in_throttled")
        return sign_in_page("Too many failed sign-ins: wait a few minutes.", 429)
    found = await tokens.identify(ctx.pool, token)
    refusal = _refusal(found[1] if found else None)
    if found is None or refusal is not None:
        console.throttle.failed(client)
        reason = "unknown token" if found is None else "not permitted"
        await record_audit(
            ctx.pool,
            actor=found[1].actor if found else "unknown",
            action="console.sign_in_refused",
            course_id=None,
            details={"reason": reason, "token_id": tokens.token_id_of(token)},
        )
        log.warning("console_sign_in_refused", reason=reason)
        message, code = refusal or ("That token is not valid.", status.HTTP_401_UNAUTHORIZED)
        return sign_in_page(message, code)
    token_id, identity = found
    cookie = await open_session(ctx.pool, identity, token_id)
    await audited(ctx.pool, identity, "console.signed_in", None, None, token_id=token_id)
    response = RedirectResponse(router.prefix, status.HTTP_303_SEE_OTHER)
    set_cookie(response, cookie, ctx, request)
    return response


def _refusal(identity: Identity | None) -> tuple[str, int] | None:
    if identity is not None and not identity.may(Permission.HANDLE_ESCALATIONS):
        return "This token may not handle escalations.", status.HTTP_403_FORBIDDEN
    return None


@router.post("/sign-out", dependencies=[Depends(same_origin)])
async def sign_out(
    session: SignedIn,
    request: Request,
    ctx: Ctx,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    # A form post (works without the script), so the token comes as a field.
    require_csrf(session, csrf)
    await end_session(ctx.pool, request.cookies[COOKIE])
    await audited(ctx.pool, session.identity, "console.signed_out", None, None)
    response = RedirectResponse(router.prefix, status.HTTP_303_SEE_OTHER)
    clear_cookie(response, ctx, request)
    return response


@router.get("/assets/{name}")
async def assets(name: str) -> Response:
    found = asset(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such asset")
    return found


@router.get("/escalations")
async def open_escalations(session: SignedIn, ctx: Ctx) -> Snapshot:
    return await snapshot(ctx.pool, session.identity)


@router.get("/events")
async def events(
    session: SignedIn, request: Request, ctx: Ctx, console: Console
) -> StreamingResponse:
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    stream = _stream(session, request.cookies[COOKIE], ctx, console)
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _stream(
    session: ConsoleSession, cookie: str, ctx: ApiContext, console: ConsoleContext
) -> AsyncIterator[str]:
    """The list now, then again after every change, while the session lives (checked at every
    turn, so a sign-out or a revoked token ends the stream within `KEEPALIVE_S`) and the feed
    holds (the page's EventSource then reconnects by itself, and so reads the list anew)."""
    async with console.feed.watch() as watcher:
        yield f"retry: {RECONNECT_MS}\n\n"
        changed = True
        # Watching is not activity: the stream does not keep the session from idling out.
        while not watcher.lost and await find_session(ctx.pool, cookie, touch=False):
            if changed:
                listing = await snapshot(ctx.pool, session.identity)
                yield f"event: escalations\ndata: {listing.model_dump_json()}\n\n"
            else:
                yield ": keep-alive\n\n"
            changed = await watcher.changed(KEEPALIVE_S)


@router.post("/escalations/{escalation_id}/acknowledge", dependencies=[Depends(same_origin)])
async def acknowledge(escalation_id: str, session: Acting, ctx: Ctx, request: Action) -> Snapshot:
    row = await _escalation(ctx, session, escalation_id)
    message = Acknowledge(by=session.identity.actor, via=AckChannel.CONSOLE)
    await send_action(
        ctx,
        session.identity,
        request,
        escalation_id,
        Escalation.acknowledge,
        message,
        action="escalation.acknowledged_on_console",
        course_id=row.course_id,
        clinic_id=row.clinic_id,
        escalation_id=escalation_id,
    )
    return await snapshot(ctx.pool, session.identity)


@router.post("/escalations/{escalation_id}/resolve", dependencies=[Depends(same_origin)])
async def resolve(
    escalation_id: str, body: ResolveRequest, session: Acting, ctx: Ctx, request: Action
) -> Snapshot:
    row = await _escalation(ctx, session, escalation_id)
    message = build(Resolve, {"by": session.identity.actor, "note": body.note})
    # The note is free text (it may name the patient): it stays with the escalation.
    await send_action(
        ctx,
        session.identity,
        request,
        escalation_id,
        Escalation.resolve,
        message,
        action="escalation.resolved_on_console",
        course_id=row.course_id,
        clinic_id=row.clinic_id,
        escalation_id=escalation_id,
    )
    return await snapshot(ctx.pool, session.identity)


async def _escalation(
    ctx: ApiContext, session: ConsoleSession, escalation_id: str
) -> escalations.EscalationRow:
    """Only escalations of the session's clinics are acted on: any other id is a 404, whatever
    it names."""
    row = await escalations.get(ctx.pool, escalation_id)
    if row is None or not session.identity.covers(row.clinic_id):
        raise WorkflowNotFoundError(escalation_id)
    return row
