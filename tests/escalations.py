"""A real Escalation started on the test server, with someone on call to page: for the tests
of the ways people answer it (pager webhook, CLI)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from temporalio.client import Client, WorkflowHandle

from cli.standins import PAGER_ROUTING_KEY
from domain.contract import TASK_QUEUE
from domain.escalation import (
    EscalationInput,
    EscalationPolicies,
    EscalationState,
    OnCallRole,
    Severity,
    Trigger,
    escalation_workflow_id,
)
from store import escalations
from store.escalations import PagerPage, pager_pages
from store.oncall import Shift, add_shift

POLLS = 200


@dataclass(frozen=True)
class Paged:
    handle: WorkflowHandle[object, object]
    trigger: Trigger
    page: PagerPage
    nurse: str
    """The staff id of the nurse on call, whom the page reached."""


async def nurse_on_call(
    pool: asyncpg.Pool, clinic_id: str, staff_id: str, role: OnCallRole = OnCallRole.NURSE
) -> None:
    """A nurse (or someone in `role`) with a pager, on call at the clinic for the next year."""
    now = datetime.now(UTC)
    await add_shift(
        pool,
        Shift(
            clinic_id=clinic_id,
            role=role,
            staff_id=staff_id,
            display_name=f"Test {staff_id}",
            phone="+15550102001",
            pager_routing_key=PAGER_ROUTING_KEY,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=365),
        ),
    )


async def paged_escalation(client: Client, pool: asyncpg.Pool) -> Paged:
    """Start a critical escalation whose on-call nurse has a pager; returns once it is paged
    and recorded. The page goes out before the records, and staff act on the recorded
    escalation (the console lists it, the CLI finds its clinic there)."""
    tag = uuid.uuid4().hex[:8]
    clinic_id = f"clinic-{tag}"
    now = datetime.now(UTC)
    nurse = f"nurse-{tag}"
    await nurse_on_call(pool, clinic_id, nurse)
    trigger = Trigger(
        dedup_key=f"course-c-{tag}/session-1/bp_critical",
        course_id=f"c-{tag}",
        clinic_id=clinic_id,
        session=1,
        phase="induction",
        severity=Severity.CRITICAL,
        condition="bp_critical",
        summary="Critical BP at the 40-minute check",
        raised_at=now,
    )
    workflow_id = escalation_workflow_id(trigger.dedup_key)
    handle: WorkflowHandle[object, object] = await client.start_workflow(
        "Escalation",
        EscalationInput(trigger=trigger, policy=EscalationPolicies().critical),
        id=workflow_id,
        task_queue=TASK_QUEUE,
    )
    for _ in range(POLLS):
        pages = await pager_pages(pool, workflow_id)
        if pages and await escalations.get(pool, workflow_id) is not None:
            return Paged(handle, trigger, pages[0], nurse)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} paged nobody, or was never recorded")


async def details(handle: WorkflowHandle[object, object]) -> EscalationState:
    state: EscalationState = await handle.query("details", result_type=EscalationState)
    return state
