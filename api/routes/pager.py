"""The pager webhook (PagerDuty v3 webhooks): an acknowledgement in the pager app reaches the
Escalation workflow, by the staff member who made it, for the page it answers.

Fields relied on, of the JSON PagerDuty posts (it sends more, all of it signed):
`event.event_type` (only `incident.acknowledged` acts), `event.id` (each event acts once),
`event.agent` (`type` `user_reference` and `id`: the PagerDuty user who acknowledged, mapped to
a staff id by the clinic's on-call schedule, `pager_user_id`) and `event.data.incident_key`:
the dedup key of the page that opened the incident, which is the page's effect key
`<escalation_id>/page-<attempt>`, so it names the occurrence (the escalation) and the page.

An acknowledgement counts only for the escalation's latest page (S2): one of an older page (a
redelivery, a re-acknowledged re-trigger, the page before a reassignment) is refused, and so is
one by a user nobody on the schedule is. Every acknowledgement of one of trdflow's pages is
answered 200 with its outcome, recorded once in the audit log (PagerDuty would retry any other
answer); only a 504 (no worker answered) asks PagerDuty for the event again.
"""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from pydantic import BaseModel, Field

from api import pagerduty
from api.context import ApiContext, Ctx
from api.errors import WorkflowNotFoundError, WorkflowRejectedError, responses
from api.messaging import query, send_update
from domain.escalation import EscalationStatus, PageAcknowledge
from store import escalations, oncall, webhook_events
from store.audit import record_audit
from store.db import Executor
from store.escalations import PagerPage, page_key, pager_page
from store.webhook_events import EVENT_ID_LIMIT, Source
from workflows.escalation import Escalation

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

ACKNOWLEDGED = "incident.acknowledged"
USER = "user_reference"
"""The agent type of a person (an integration or the API acknowledges as something else)."""
PAGER = "pager"
"""The audit log's actor of an acknowledgement that maps to no staff member."""

Outcome = Literal["acknowledged", "ignored", "duplicate", "refused"]
Refusal = Literal["unmapped_user", "stale_page", "not_open"]


class PagerAgent(BaseModel):
    id: str | None = Field(None, max_length=EVENT_ID_LIMIT, description="The PagerDuty user.")
    type: str | None = Field(None, description="user_reference for a person.")


class PagerIncident(BaseModel):
    incident_key: str | None = Field(
        None, description="The dedup key of the page that opened the incident."
    )


class PagerEvent(BaseModel):
    id: str | None = Field(None, min_length=1, max_length=EVENT_ID_LIMIT)
    event_type: str = Field(description="e.g. incident.acknowledged, incident.resolved.")
    agent: PagerAgent | None = None
    data: PagerIncident | None = None


class PagerWebhook(BaseModel):
    """The fields used of a PagerDuty v3 webhook delivery."""

    event: PagerEvent


class PagerWebhookAnswer(BaseModel):
    outcome: Outcome = Field(
        description=(
            "acknowledged: the escalation was told; ignored: nothing to do; duplicate: this "
            "event was handled already; refused: an acknowledgement not applied (see reason)."
        )
    )
    reason: Refusal | None = Field(
        None,
        description=(
            "unmapped_user: no staff member acknowledges as that PagerDuty user; stale_page: "
            "not the escalation's latest page; not_open: acknowledged or resolved already."
        ),
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
        "PAGERDUTY_WEBHOOK_SECRET to the subscription's secret). `incident.acknowledged` of "
        "the latest page of one of trdflow's escalations acknowledges it, as the staff member "
        "whose on-call shifts name the acknowledging PagerDuty user (`event.agent.id`). An "
        "acknowledgement of an older page, of an escalation no longer open, or by an unmapped "
        "user is refused; an event delivered again (same `event.id`) is a duplicate; every "
        "other event is ignored. All of these are 200s, with the outcome; a 504 (no worker "
        "answered) makes PagerDuty deliver the event again."
    ),
    responses=responses(403, 422, 503, 504),
    dependencies=[Depends(_signed_by_pagerduty)],
    response_model_exclude_none=True,
)
async def pager_event(webhook: PagerWebhook, ctx: Ctx) -> PagerWebhookAnswer:
    event = webhook.event
    key = event.data.incident_key if event.data else None
    page = None if key is None else await pager_page(ctx.pool, key)
    attempt = None if page is None else _attempt(page)
    if event.event_type != ACKNOWLEDGED or page is None or attempt is None:
        log.info("pager_event_ignored", event_type=event.event_type, event_id=event.id)
        return PagerWebhookAnswer(outcome="ignored")
    if event.id is None:
        # Every PagerDuty event has one: without it, a repeat could not be told apart.
        log.warning("pager_ack_without_event_id", escalation_id=page.escalation_id)
        return PagerWebhookAnswer(outcome="ignored")
    user = event.agent.id if event.agent is not None and event.agent.type == USER else None
    # The id is claimed in the transaction of the audit row: a 504 rolls both back, so
    # PagerDuty's retry acts; the Update's id makes a retry after it was applied a no-op.
    async with ctx.pool.acquire() as conn, conn.transaction():
        if not await webhook_events.first_delivery(conn, Source.PAGERDUTY, event.id):
            log.info("pager_event_duplicate", event_id=event.id, escalation_id=page.escalation_id)
            return PagerWebhookAnswer(outcome="duplicate")
        return await _acknowledge(ctx, conn, event.id, user, page, attempt)


async def _acknowledge(
    ctx: ApiContext, db: Executor, event_id: str, user: str | None, page: PagerPage, attempt: int
) -> PagerWebhookAnswer:
    context = {"escalation_id": page.escalation_id, "page": attempt, "event_id": event_id}
    staff_id = None if user is None else await _staff(db, page, user)
    if staff_id is None:
        return await _refuse(db, page, PAGER, "unmapped_user", pager_user_id=user, **context)
    message = PageAcknowledge(by=staff_id, escalation_id=page.escalation_id, page=attempt)
    try:
        await send_update(
            ctx.client,
            page.escalation_id,
            Escalation.acknowledge_page,
            message,
            update_id=f"pagerduty-{event_id}",
        )
    except (WorkflowNotFoundError, WorkflowRejectedError):
        reason = await _why_refused(ctx, page.escalation_id, attempt)
        return await _refuse(db, page, staff_id, reason, **context)
    await record_audit(
        db,
        actor=staff_id,
        action="escalation.acknowledged_on_pager",
        course_id=page.course_id,
        details={"dedup_key": page.dedup_key, "workflow_id": page.escalation_id, **context},
    )
    log.info("pager_acknowledged", course_id=page.course_id, actor=staff_id, **context)
    return PagerWebhookAnswer(outcome="acknowledged")


async def _staff(db: Executor, page: PagerPage, user: str) -> str | None:
    """The staff member of the escalation's clinic who acknowledges as the PagerDuty user."""
    escalation = await escalations.get(db, page.escalation_id)
    if escalation is None:
        return None
    return await oncall.staff_for_pager_user(db, escalation.clinic_id, user)


async def _why_refused(ctx: ApiContext, workflow_id: str, attempt: int) -> Refusal:
    """What the escalation's validator refused the acknowledgement for, as it stands now."""
    try:
        state = await query(ctx.client, workflow_id, Escalation.details)
    except (WorkflowNotFoundError, WorkflowRejectedError):
        return "not_open"
    latest = state.pages[-1].attempt if state.pages else 0
    # Still open, the named page the latest: a reassignment's page is on its way.
    if attempt != latest or state.status is EscalationStatus.OPEN:
        return "stale_page"
    return "not_open"


async def _refuse(
    db: Executor, page: PagerPage, actor: str, reason: Refusal, /, **context: object
) -> PagerWebhookAnswer:
    await record_audit(
        db,
        actor=actor,
        action="escalation.pager_ack_refused",
        course_id=page.course_id,
        details={"reason": reason, "dedup_key": page.dedup_key, **context},
    )
    log.warning("pager_ack_refused", reason=reason, course_id=page.course_id, **context)
    return PagerWebhookAnswer(outcome="refused", reason=reason)


def _attempt(page: PagerPage) -> int | None:
    """The page's attempt, from its dedup key; None for a key not shaped as ours."""
    number = page.dedup_key.rpartition("/page-")[2]
    if not number.isdecimal() or page_key(page.escalation_id, int(number)) != page.dedup_key:
        return None
    return int(number)
