"""The console's routes (a browser page, so left out of the API's OpenAPI document).

Staff sign in with their staff bearer token, which is exchanged for a session cookie; the page
then reads `/console/escalations`, follows `/console/events` (Server-Sent Events) and posts
acknowledge and resolve, which become the Escalation workflow's Updates, by the signed-in
staff member, audited.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel

from api.actions import Action, send_action
from api.audit import audited
from api.console.access import (
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
from api.console.sessions import ConsoleSession
from api.context import ApiContext, Ctx
from api.errors import WorkflowNotFoundError, build
from domain.escalation import AckChannel, Acknowledge, Resolve
from store import escalations
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
async def page(session: MaybeSignedIn, console: Console) -> Response:
    if session is None:
        return sign_in_page()
    return console_page(session.actor, console.signer.csrf_token(session))


@router.post("/sign-in", dependencies=[Depends(same_origin)])
async def sign_in(
    token: Annotated[str, Form(max_length=500)], request: Request, ctx: Ctx, console: Console
) -> Response:
    identity = ctx.tokens.identify(token)
    if identity is None:
        log.warning("console_sign_in_refused", reason="unknown token")
        return sign_in_page("That token is not valid.", status.HTTP_401_UNAUTHORIZED)
    if identity.role != "staff":
        log.warning("console_sign_in_refused", reason="not staff", actor=identity.actor)
        return sign_in_page("Only staff may sign in to the console.", status.HTTP_403_FORBIDDEN)
    session, cookie = console.signer.issue(identity.actor, time.time())
    await audited(ctx.pool, session.identity, "console.signed_in", None)
    response = RedirectResponse(router.prefix, status.HTTP_303_SEE_OTHER)
    set_cookie(response, cookie, ctx, request)
    return response


@router.post("/sign-out", dependencies=[Depends(same_origin)])
async def sign_out(
    session: SignedIn,
    request: Request,
    ctx: Ctx,
    console: Console,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    # A form post (works without the script), so the token comes as a field.
    require_csrf(console, session, csrf)
    await audited(ctx.pool, session.identity, "console.signed_out", None)
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
async def open_escalations(_: SignedIn, ctx: Ctx) -> Snapshot:
    return await snapshot(ctx.pool)


@router.get("/events")
async def events(session: SignedIn, ctx: Ctx, console: Console) -> StreamingResponse:
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _stream(session, ctx, console), media_type="text/event-stream", headers=headers
    )


async def _stream(
    session: ConsoleSession, ctx: ApiContext, console: ConsoleContext
) -> AsyncIterator[str]:
    """The list now, then again after every change, until the session expires or the feed is
    lost (the page's EventSource then reconnects by itself, and so reads the list anew)."""
    async with console.feed.watch() as watcher:
        yield f"retry: {RECONNECT_MS}\n\n"
        changed = True
        while session.valid_at(time.time()) and not watcher.lost:
            if changed:
                listing = await snapshot(ctx.pool)
                yield f"event: escalations\ndata: {listing.model_dump_json()}\n\n"
            else:
                yield ": keep-alive\n\n"
            changed = await watcher.changed(KEEPALIVE_S)


@router.post("/escalations/{escalation_id}/acknowledge", dependencies=[Depends(same_origin)])
async def acknowledge(escalation_id: str, session: Acting, ctx: Ctx, request: Action) -> Snapshot:
    row = await _escalation(ctx, escalation_id)
    message = Acknowledge(by=session.actor, via=AckChannel.CONSOLE)
    await send_action(
        ctx,
        session.identity,
        request,
        escalation_id,
        Escalation.acknowledge,
        message,
        action="escalation.acknowledged_on_console",
        course_id=row.course_id,
        escalation_id=escalation_id,
    )
    return await snapshot(ctx.pool)


@router.post("/escalations/{escalation_id}/resolve", dependencies=[Depends(same_origin)])
async def resolve(
    escalation_id: str, body: ResolveRequest, session: Acting, ctx: Ctx, request: Action
) -> Snapshot:
    row = await _escalation(ctx, escalation_id)
    message = build(Resolve, {"by": session.actor, "note": body.note})
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
        escalation_id=escalation_id,
    )
    return await snapshot(ctx.pool)


async def _escalation(ctx: ApiContext, escalation_id: str) -> escalations.EscalationRow:
    """Only escalations are acted on: an id that is not one is a 404, whatever it names."""
    row = await escalations.get(ctx.pool, escalation_id)
    if row is None:
        raise WorkflowNotFoundError(escalation_id)
    return row
