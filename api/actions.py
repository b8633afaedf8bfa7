"""Actions sent to a workflow as Updates: applied once however often they are sent, and
audited before and after, whoever sends them.

A staff action writes its audit intent, durable, before the Update goes out, and its outcome
(done or refused) after, as two rows of the append-only audit log that share the request's key
and attempt. The attempt names the Update (its id), and Temporal applies an Update id once,
answering a repeat with the first result, even after the workflow has ended. So a retry after an
outage, whether the Update went out or not and the outcome was written or not, finds the
attempt, sends the same id, is applied at most once, answers with the first result and
completes the audit.

The request's key: the caller's `Idempotency-Key` when it sends one, else the request itself,
always with the caller, the method, the path and the body. A caller's key names one action:
every retry with it gets that action's result. Without one, the same request again is a retry
while its last attempt has no outcome (the API never learned its fate, so neither did the
caller), and a new action once it has one: a session delayed by a clinician is checked in again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import Depends, Header, Request
from pydantic import BaseModel
from temporalio.workflow import UpdateMethodMultiParam

from api.context import ApiContext
from api.errors import WorkflowNotFoundError, WorkflowRejectedError
from api.messaging import send_update
from domain.access import Identity
from store.audit import Stage, record_attempt, request_attempts
from store.db import Executor

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ActionRequest:
    """What identifies one action across its retries."""

    idempotency_key: str | None
    fingerprint: str
    """A digest of the method, the path and the body."""

    def key(self, actor: str) -> str:
        """The request's key: per caller, so one caller's key never finds another's action."""
        return _digest(actor, self.fingerprint, self.idempotency_key or "")


async def action_request(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=200,
            description=(
                "Any unique string (e.g. a UUID) naming this action: a retry with the same key "
                "and body is done once and answers with the first result. Without it, the same "
                "request again retries an attempt whose outcome the API has not recorded."
            ),
        ),
    ] = None,
) -> ActionRequest:
    # A retry resends the same bytes; a digest keeps the body (PHI, maybe) out of the key.
    body = await request.body()
    fingerprint = _digest(request.method, request.url.path, body.hex())
    return ActionRequest(idempotency_key=idempotency_key, fingerprint=fingerprint)


Action = Annotated[ActionRequest, Depends(action_request)]


async def send_action(
    ctx: ApiContext,
    who: Identity,
    request: ActionRequest,
    workflow_id: str,
    update: UpdateMethodMultiParam[[Any, M], R],
    message: M,
    first: Callable[[], Awaitable[None]] | None = None,
    /,
    *,
    action: str,
    course_id: str | None,
    clinic_id: str,
    **details: object,
) -> R:
    """Send `message` as `update` to `workflow_id` on behalf of `who`, once (see the module).

    `first` checks a new attempt before anything is written (it raises to refuse it). A retry
    skips it and sends its Update again: Temporal answers a known Update id with its first
    result, even once the workflow has ended, where a check would refuse it as over.
    `details` go to the audit log and the log: no PHI (numbers, codes, outcomes only).
    """
    key = request.key(who.actor)
    context = {"course_id": course_id, "clinic_id": clinic_id, "actor": who.actor, **details}
    attempt, started = await _attempt(ctx.pool, key, repeatable=request.idempotency_key is None)
    if not started and first is not None:
        await first()
    entry = {"workflow_id": workflow_id, **details}

    async def audit(stage: Stage) -> None:
        await record_attempt(
            ctx.pool,
            key,
            attempt,
            stage,
            who.actor,
            action,
            course_id,
            details=entry,
            actor_kind=who.kind,
            clinic_id=clinic_id,
        )

    if not started:
        await audit(Stage.INTENT)
    try:
        result = await send_update(
            ctx.client, workflow_id, update, message, update_id=_update_id(key, attempt)
        )
    except (WorkflowNotFoundError, WorkflowRejectedError):
        # Not applied (an unknown or ended workflow, or its validator said no): audited as such.
        await audit(Stage.REFUSED)
        raise
    await audit(Stage.DONE)
    log.info(action, workflow_id=workflow_id, attempt=attempt, retried=started, **context)
    return result


async def _attempt(db: Executor, key: str, *, repeatable: bool) -> tuple[int, bool]:
    """The attempt this request makes, and whether its intent is written already.

    A caller's key is one action: one attempt, retried for ever. A request without one retries
    its last attempt while that has no outcome, and otherwise makes a new attempt.
    """
    attempts = await request_attempts(db, key)
    if not repeatable:
        return 1, 1 in attempts
    last = max(attempts, default=0)
    if attempts.get(last) == frozenset({Stage.INTENT}):
        return last, True
    return last + 1, False


def _update_id(key: str, attempt: int) -> str:
    return f"action-{key}-{attempt}"


def _digest(*parts: str) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        # Length-prefixed: ("ab", "c") and ("a", "bc") differ.
        hashed.update(f"{len(part)}:{part}".encode())
    return hashed.hexdigest()
