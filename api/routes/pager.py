"""The pager webhook (PagerDuty v3 webhooks): an acknowledgement in the pager app reaches the
Escalation workflow.

Fields relied on, of the JSON PagerDuty posts (it sends more, all of it signed):
`event.event_type` (only `incident.acknowledged` acts), `event.id`, `event.agent.summary` (the
name of the person who acknowledged; absent for automatic acknowledgements) and
`event.data.incident_key`: the dedup key of the page that opened the incident, which is the
page's effect key `<escalation_id>/page-<attempt>`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from pydantic import BaseModel, Field

from api import pagerduty
from api.context import Ctx
from api.errors import WorkflowNotFoundError, WorkflowRejectedError, responses
from api.messaging import send_update
from domain.escalation import AckChannel, Acknowledge
from store.audit import record_audit
from store.escalations import pager_page
from workflows.escalation import Escalation

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

ACKNOWLEDGED = "incident.acknowledged"
PAGER = "pager"
"""The acknowledging actor when the pager does not say who it was."""
ACTOR_LIMIT = 120


class PagerAgent(BaseModel):
    summary: str | None = Field(None, description="The user's name, as PagerDuty shows it.")


class PagerIncident(BaseModel):
    incident_key: str | None = Field(
        None, description="The dedup key of the page that opened the incident."
    )


class PagerEvent(BaseModel):
    id: str | None = None
    event_type: str = Field(description="e.g. incident.acknowledged, incident.resolved.")
    agent: PagerAgent | None = None
    data: PagerIncident | None = None


class PagerWebhook(BaseModel):
    """The fields used of a PagerDuty v3 webhook delivery."""

    event: PagerEvent


class PagerWebhookAnswer(BaseModel):
    outcome: Literal["acknowledged", "ignored"] = Field(
        description="acknowledged: the escalation was told; ignored: nothing to do."
    )


async def _signed_by_pagerduty(
    request: Request,
    ctx: Ctx,
    x_pagerduty_signature: Annotated[
        str | None, Header(description="v1=<hex HMAC-SHA256 of the raw body>, comma-separated.")
    ] = None,
) -> None:
    secret = ctx.settings.pagerduty_webhook_secret
    if secret is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "PAGERDUTY_WEBHOOK_SECRET is not set"
        )
    body = await request.body()
    signed = x_pagerduty_signature is not None and pagerduty.is_signed(
        secret.get_secret_value(), body, x_pagerduty_signature
    )
    if not signed:
        log.warning("pager_webhook_bad_signature")
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid X-PagerDuty-Signature")


@router.post(
    "/pager",
    summary="Pager events (PagerDuty v3 webhook)",
    description=(
        "PagerDuty posts incident events here, signed with X-PagerDuty-Signature (set "
        "PAGERDUTY_WEBHOOK_SECRET to the subscription's secret). `incident.acknowledged` for "
        "one of trdflow's pages acknowledges its escalation, by the acknowledging user "
        '(`event.agent.summary`, else "pager"); every other event is accepted and ignored. '
        "A 504 (no worker answered) makes PagerDuty deliver the event again."
    ),
    responses=responses(403, 422, 503, 504),
    dependencies=[Depends(_signed_by_pagerduty)],
)
async def pager_event(webhook: PagerWebhook, ctx: Ctx) -> PagerWebhookAnswer:
    event = webhook.event
    key = event.data.incident_key if event.data else None
    page = None if key is None else await pager_page(ctx.pool, key)
    if event.event_type != ACKNOWLEDGED or page is None:
        log.info("pager_event_ignored", event_type=event.event_type, event_id=event.id)
        return PagerWebhookAnswer(outcome="ignored")
    agent = (event.agent.summary or "").strip() if event.agent else ""
    by = agent[:ACTOR_LIMIT] or PAGER
    context = {"workflow_id": page.escalation_id, "event_id": event.id}
    acknowledge = Acknowledge(by=by, via=AckChannel.PAGER)
    try:
        await send_update(ctx.client, page.escalation_id, Escalation.acknowledge, acknowledge)
    except (WorkflowNotFoundError, WorkflowRejectedError) as err:
        # Over, or acknowledged already: nothing for PagerDuty to retry.
        log.info(
            "pager_ack_not_applied", course_id=page.course_id, error=type(err).__name__, **context
        )
        return PagerWebhookAnswer(outcome="ignored")
    await record_audit(
        ctx.pool,
        actor=by,
        action="escalation.acknowledged_on_pager",
        course_id=page.course_id,
        details={"escalation_id": page.escalation_id, "dedup_key": page.dedup_key, **context},
    )
    log.info("pager_acknowledged", course_id=page.course_id, actor=by, **context)
    return PagerWebhookAnswer(outcome="acknowledged")
