"""The inbound-SMS webhook (Twilio's form post): a driver's YES confirms the ride home.

Each message acts once, by its `MessageSid`: the signature has no timestamp, so a captured
request verifies again, and a replayed YES would confirm whatever ride the driver has pending
then. The sid is claimed in the transaction that confirms the ride and audits it.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from api import twilio
from api.context import ApiContext, Ctx
from api.errors import (
    WorkflowNotFoundError,
    WorkflowRejectedError,
    WorkflowUnansweredError,
    responses,
)
from api.messaging import send_update
from domain.contract import session_workflow_id
from domain.session import TransportConfirmation, TransportConfirmedVia
from store import webhook_events
from store.audit import record_audit
from store.db import Executor
from store.transport import confirm_transport_by_driver_phone
from store.webhook_events import EVENT_ID_LIMIT, Source
from workflows.session import DosingSession

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

YES = frozenset({"YES", "Y", "OK"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
DRIVER = "driver"
"""The audit log's actor for a driver's reply: the phone number is PHI, so not that."""


class InboundSms(BaseModel):
    """The fields used of Twilio's form post (it sends more; all of them are signed)."""

    From: str = Field(description="The sender's number, E.164.")
    To: str = Field(description="The clinic's number.")
    Body: str = Field(max_length=1600)
    MessageSid: str = Field(min_length=1, max_length=EVENT_ID_LIMIT)


async def _signed_by_twilio(
    request: Request,
    ctx: Ctx,
    x_twilio_signature: Annotated[
        str | None, Header(description="Base64 HMAC-SHA1 of the URL and the sorted form.")
    ] = None,
) -> None:
    """Runs before the form is validated: an unsigned post gets a 403 whatever it holds."""
    auth_token = ctx.settings.twilio_auth_token
    if auth_token is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "TWILIO_AUTH_TOKEN is not set")
    form = await request.form()
    params = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    url = str(request.url)
    if ctx.settings.public_url is not None:
        # Behind a proxy, Twilio signed the public URL, not the one this server sees.
        url = ctx.settings.public_url.rstrip("/") + request.url.path
        url += f"?{request.url.query}" if request.url.query else ""
    signed = x_twilio_signature is not None and twilio.is_signed(
        auth_token.get_secret_value(), url, params, x_twilio_signature
    )
    if not signed:
        log.warning("sms_webhook_bad_signature")
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid X-Twilio-Signature")


@router.post(
    "/sms",
    summary="Inbound SMS (Twilio webhook)",
    description=(
        "Twilio posts each SMS to the clinic's number here, signed with X-Twilio-Signature "
        "(set TWILIO_AUTH_TOKEN; behind a proxy also TRDFLOW_PUBLIC_URL). A reply of YES, Y "
        "or OK (any case) to the clinic's number (TWILIO_FROM_NUMBER) confirms the sender's "
        "latest pending ride-home request, and the session is told. Any other text is "
        "ignored, and so is a message delivered again (same MessageSid) or sent to another "
        "number. The answer is always empty TwiML."
    ),
    response_class=Response,
    responses={
        200: {
            "description": "Empty TwiML: no reply SMS.",
            "content": {"text/xml": {"example": EMPTY_TWIML}},
        },
        **responses(403, 422, 503),
    },
    dependencies=[Depends(_signed_by_twilio)],
)
async def inbound_sms(sms: Annotated[InboundSms, Form()], ctx: Ctx) -> Response:
    # Every message is claimed, not only a YES that confirmed something: a YES replayed once
    # the driver has a later ride pending would confirm that one.
    async with ctx.pool.acquire() as conn, conn.transaction():
        clinic_number = ctx.settings.twilio_from_number
        if not await webhook_events.first_delivery(conn, Source.TWILIO, sms.MessageSid):
            log.warning("sms_replayed", message_sid=sms.MessageSid)
        elif clinic_number is not None and sms.To != clinic_number:
            # Only a reply to the number the ride request was sent from confirms a ride.
            log.warning("sms_to_another_number_ignored", message_sid=sms.MessageSid)
        elif sms.Body.strip().upper() in YES:
            await _confirm_ride(ctx, conn, sms)
        else:
            log.info("sms_ignored", message_sid=sms.MessageSid)
    return Response(EMPTY_TWIML, media_type="text/xml")


async def _confirm_ride(ctx: ApiContext, db: Executor, sms: InboundSms) -> None:
    found = await confirm_transport_by_driver_phone(db, sms.From)
    if found is None:
        log.info("sms_yes_without_pending_ride", message_sid=sms.MessageSid)
        return
    course_id, n = found
    workflow_id = session_workflow_id(course_id, n)
    message = TransportConfirmation(by=DRIVER, via=TransportConfirmedVia.DRIVER_SMS)
    try:
        await send_update(
            ctx.client,
            workflow_id,
            DosingSession.confirm_transport,
            message,
            update_id=f"twilio-{sms.MessageSid}",
        )
    except (WorkflowNotFoundError, WorkflowRejectedError, WorkflowUnansweredError) as err:
        # Twilio cannot act on an error answer; the session's own alert covers the ride.
        log.warning(
            "sms_confirmation_not_applied",
            course_id=course_id,
            session=n,
            workflow_id=workflow_id,
            error=type(err).__name__,
        )
        return
    await record_audit(
        db,
        actor=DRIVER,
        action="session.transport_confirmed",
        course_id=course_id,
        details={
            "session": n,
            "workflow_id": workflow_id,
            "via": TransportConfirmedVia.DRIVER_SMS,
            "message_sid": sms.MessageSid,
        },
    )
    log.info("sms_ride_confirmed", course_id=course_id, session=n, workflow_id=workflow_id)
