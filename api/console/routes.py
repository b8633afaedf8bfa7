"""The console's routes (a browser page, so left out of the API's OpenAPI document).

Staff sign in with their token, which is exchanged for a server-side session (a cookie); the page
then reads `/console/escalations`, follows `/console/events` (Server-Sent Events), both
filtered to one of the person's clinics with `?clinic=`, and posts acknowledge, resolve and
reassign (to someone on call, `/console/on-call`), which become the Escalation workflow's
Updates, by the signed-in staff member, audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import structlog
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.workflow import UpdateMethodMultiParam

from api.actions import Action, ActionRequest, send_action
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
from api.console.listing import OnCallPerson, Snapshot, on_call_now, snapshot
from api.console.pages import asset, console_page, sign_in_page
from api.console.sso import SignOnRefused
from api.context import ApiContext, Ctx
from api.errors import WorkflowNotFoundError, build, invalid
from domain.access import Identity, Permission
from domain.course import REF_PATTERN
from domain.escalation import (
    AckChannel,
    Acknowledge,
    EscalationState,
    OnCallRole,
    Reassign,
    Resolve,
)
from store import escalations, oncall, tokens
from store.audit import record_audit
from store.console_sessions import ConsoleSession, open_session
from store.console_sessions import end as end_session
from store.console_sessions import find as find_session
from workflows.escalation import Escalation

M = TypeVar("M", bound=BaseModel)

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)

KEEPALIVE_S = 15.0
"""An SSE comment this often keeps proxies from closing a quiet stream."""
RECONNECT_MS = 3000


class ResolveRequest(BaseModel):
    """What was done; the domain's `Resolve` holds the note's rules."""

    note: str


class ReassignRequest(BaseModel):
    """Whom to page next: someone on call at the escalation's clinic now, in `to_role` (by
    default the first role on the ladder that they hold)."""

    model_config = ConfigDict(extra="forbid")

    to_staff: str = Field(min_length=1, max_length=120)
    to_role: OnCallRole | None = None


def covered(session: ConsoleSession, clinic: str) -> str:
    """One of the session's clinics; any other is not found, whether it exists or not."""
    if not session.identity.covers(clinic):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not one of your clinics")
    return clinic


def shown_clinic(
    session: SignedIn, clinic: Annotated[str | None, Query(pattern=REF_PATTERN)] = None
) -> str | None:
    """The clinic the list is filtered to (`?clinic=`); None: all of the session's."""
    return None if clinic is None else covered(session, clinic)


ShownClinic = Annotated[str | None, Depends(shown_clinic)]


@router.get("")
async def page(session: MaybeSignedIn, console: Console) -> Response:
    if session is None:
        return sign_in_page(sso=console.sso is not None)
    return console_page(session.identity.actor, session.csrf_token)


@router.post("/sign-in", dependencies=[Depends(same_origin)])
async def sign_in(
    token: Annotated[str, Form(max_length=500)], request: Request, ctx: Ctx, console: Console
) -> Response:
    if console.throttle.blocked(_client(request)):
        return _throttled(console)
    found = await tokens.identify(ctx.pool, token)
    details: dict[str, object] = {"via": "token", "token_id": tokens.token_id_of(token)}
    if found is None:
        await _refuse(request, ctx, console, "unknown", "unknown token", details)
        return sign_in_page("That token is not valid.", 401, sso=console.sso is not None)
    token_id, identity = found
    return await _open(request, ctx, console, identity, token_id, details)


@router.get("/sso")
async def single_sign_on(request: Request, ctx: Ctx, console: Console) -> Response:
    """To the identity provider, with a one-time state, a nonce and a PKCE challenge."""
    if console.sso is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "single sign-on is not configured")
    if console.throttle.blocked(_client(request)):
        return _throttled(console)
    url = await console.sso.start(_public_base(ctx, request) + router.prefix + "/sso/callback")
    return RedirectResponse(url, status.HTTP_303_SEE_OTHER)


@router.get("/sso/callback")
async def single_sign_on_callback(
    request: Request,
    ctx: Ctx,
    console: Console,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The provider's answer: the code is exchanged and its ID token checked (`sso`)."""
    if console.sso is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "single sign-on is not configured")
    if console.throttle.blocked(_client(request)):
        return _throttled(console)
    try:
        if code is None or state is None:
            raise SignOnRefused(f"the provider answered {error or 'without a code'}")
        identity = await console.sso.finish(code, state)
    except SignOnRefused as refused:
        await _refuse(request, ctx, console, "unknown", str(refused), {"via": "sso"})
        return sign_in_page("Single sign-on did not succeed.", 401, sso=True)
    return await _open(request, ctx, console, identity, None, {"via": "sso"})


async def _open(
    request: Request,
    ctx: Ctx,
    console: ConsoleContext,
    identity: Identity,
    token_id: str | None,
    details: dict[str, object],
) -> Response:
    """A session for `identity` if it may handle escalations; else the sign-in page again."""
    if not identity.may(Permission.HANDLE_ESCALATIONS):
        await _refuse(request, ctx, console, identity.actor, "not permitted", details)
        message = "You may not handle escalations."
        return sign_in_page(message, status.HTTP_403_FORBIDDEN, sso=console.sso is not None)
    cookie = await open_session(ctx.pool, identity, token_id)
    await audited(ctx.pool, identity, "console.signed_in", None, None, **details)
    response = RedirectResponse(router.prefix, status.HTTP_303_SEE_OTHER)
    set_cookie(response, cookie, ctx, request)
    return response


async def _refuse(
    request: Request,
    ctx: Ctx,
    console: ConsoleContext,
    actor: str,
    reason: str,
    details: dict[str, object],
) -> None:
    """Count a failed sign-in against its client, and audit it."""
    console.throttle.failed(_client(request))
    await record_audit(
        ctx.pool,
        actor=actor,
        action="console.sign_in_refused",
        course_id=None,
        details={"reason": reason, **details},
    )
    log.warning("console_sign_in_refused", reason=reason, via=details.get("via"))


def _throttled(console: ConsoleContext) -> Response:
    log.warning("console_sign_in_throttled")
    message = "Too many failed sign-ins: wait a few minutes."
    return sign_in_page(message, status.HTTP_429_TOO_MANY_REQUESTS, sso=console.sso is not None)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _public_base(ctx: Ctx, request: Request) -> str:
    """The API's URL as the browser sees it: the provider sends the person back there."""
    return (ctx.settings.public_url or str(request.base_url)).rstrip("/")


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
async def open_escalations(session: SignedIn, ctx: Ctx, clinic: ShownClinic) -> Snapshot:
    listing = await snapshot(ctx.pool, session.identity, clinic)
    shown = len(listing.escalations)
    await audited(ctx.pool, session.identity, "console.escalations_read", None, clinic, shown=shown)
    return listing


@router.get("/events")
async def events(
    session: SignedIn, request: Request, ctx: Ctx, console: Console, clinic: ShownClinic
) -> StreamingResponse:
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    # Once per stream: it then shows every change while it lives.
    await audited(ctx.pool, session.identity, "console.stream_opened", None, clinic)
    stream = _stream(session, clinic, request.cookies[COOKIE], ctx, console)
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _stream(
    session: ConsoleSession,
    clinic: str | None,
    cookie: str,
    ctx: ApiContext,
    console: ConsoleContext,
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
                listing = await snapshot(ctx.pool, session.identity, clinic)
                yield f"event: escalations\ndata: {listing.model_dump_json()}\n\n"
            else:
                yield ": keep-alive\n\n"
            changed = await watcher.changed(KEEPALIVE_S)


@router.post("/escalations/{escalation_id}/acknowledge", dependencies=[Depends(same_origin)])
async def acknowledge(
    escalation_id: str, session: Acting, ctx: Ctx, request: Action, clinic: ShownClinic
) -> Snapshot:
    row = await _escalation(ctx, session, escalation_id)
    message = Acknowledge(by=session.identity.actor, via=AckChannel.CONSOLE)
    action = "escalation.acknowledged_on_console"
    return await _act(ctx, session, request, clinic, row, Escalation.acknowledge, message, action)


@router.post("/escalations/{escalation_id}/resolve", dependencies=[Depends(same_origin)])
async def resolve(
    escalation_id: str,
    body: ResolveRequest,
    session: Acting,
    ctx: Ctx,
    request: Action,
    clinic: ShownClinic,
) -> Snapshot:
    row = await _escalation(ctx, session, escalation_id)
    message = build(Resolve, {"by": session.identity.actor, "note": body.note})
    # The note is free text (it may name the patient): it stays with the escalation.
    action = "escalation.resolved_on_console"
    return await _act(ctx, session, request, clinic, row, Escalation.resolve, message, action)


@router.post("/escalations/{escalation_id}/reassign", dependencies=[Depends(same_origin)])
async def reassign(
    escalation_id: str,
    body: ReassignRequest,
    session: Acting,
    ctx: Ctx,
    request: Action,
    clinic: ShownClinic,
) -> Snapshot:
    row = await _escalation(ctx, session, escalation_id)
    person = await _on_call(ctx, row.clinic_id, body)
    message = Reassign(by=session.identity.actor, to_staff=person.staff_id, to_role=person.role)
    return await _act(
        ctx,
        session,
        request,
        clinic,
        row,
        Escalation.reassign,
        message,
        "escalation.reassigned_on_console",
        to_staff=person.staff_id,
        to_role=person.role,
    )


@router.get("/on-call")
async def on_call(
    session: SignedIn, ctx: Ctx, clinic: Annotated[str, Query(pattern=REF_PATTERN)]
) -> list[OnCallPerson]:
    """Whom an escalation of `clinic` may be reassigned to: who is on call there now."""
    return await on_call_now(ctx.pool, covered(session, clinic))


async def _on_call(ctx: ApiContext, clinic_id: str, body: ReassignRequest) -> oncall.OnCallEntry:
    """The person asked for, on call at the clinic now; anyone else is bad input, refused
    before anything is sent."""
    try:
        return await oncall.on_call_as(
            ctx.pool, clinic_id, body.to_staff, body.to_role, datetime.now(UTC)
        )
    except ValueError as err:
        raise invalid([{"loc": ("to_staff",), "msg": str(err), "type": "value_error"}]) from None


async def _act(
    ctx: ApiContext,
    session: ConsoleSession,
    request: ActionRequest,
    clinic: str | None,
    row: escalations.EscalationRow,
    update: UpdateMethodMultiParam[[Escalation, M], EscalationState],
    message: M,
    action: str,
    **details: object,
) -> Snapshot:
    """Send the escalation's Update as the signed-in person, once and audited as `action`,
    and answer with the list as the page shows it. `details` are audited: no PHI."""
    await send_action(
        ctx,
        session.identity,
        request,
        row.escalation_id,
        update,
        message,
        action=action,
        course_id=row.course_id,
        clinic_id=row.clinic_id,
        escalation_id=row.escalation_id,
        **details,
    )
    return await snapshot(ctx.pool, session.identity, clinic)


async def _escalation(
    ctx: ApiContext, session: ConsoleSession, escalation_id: str
) -> escalations.EscalationRow:
    """Only escalations of the session's clinics are acted on: any other id is a 404, whatever
    it names."""
    row = await escalations.get(ctx.pool, escalation_id)
    if row is None or not session.identity.covers(row.clinic_id):
        raise WorkflowNotFoundError(escalation_id)
    return row
