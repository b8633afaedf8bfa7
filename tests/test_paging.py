"""Paging through real local providers (PagerDuty's Events API v2 and Twilio, played by a local
HTTP server), the on-call schedule, and the escalation records the console lists."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import SecretStr
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError

from activities.adapters.factory import Adapters, adapters_from, local_adapters
from activities.adapters.ports import PagerAlert
from activities.paging import EscalationRecords, Paging
from cli.standins import (
    PAGER_ROUTING_KEY,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_FROM,
    HttpProviders,
)
from domain.escalation import (
    EscalationRecord,
    EscalationStatus,
    OnCallRole,
    PageChannel,
    PagerAction,
    PageRequest,
    PageResult,
    PagerUpdate,
    Severity,
    Trigger,
    escalation_workflow_id,
)
from domain.notices import Channel
from store import escalations
from store.escalations import NOTIFY_CHANNEL
from store.oncall import OnCallEntry, Shift, add_shift, by_staff, on_call, on_call_at
from tests.activity_runs import run
from worker.settings import Settings

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
SUMMARY = "Critical BP 186/112 at the 40-minute check"
NURSE_PHONE = "+15550102001"
PSYCHIATRIST_PHONE = "+15550102002"


def new_clinic() -> str:
    return f"clinic-{uuid.uuid4().hex[:8]}"


def trigger(clinic_id: str, severity: Severity = Severity.CRITICAL, **changes: object) -> Trigger:
    course_id = f"c-{uuid.uuid4().hex[:10]}"
    fields: dict[str, object] = {
        "dedup_key": f"course-{course_id}/session-2/bp_critical",
        "course_id": course_id,
        "clinic_id": clinic_id,
        "session": 2,
        "phase": "induction",
        "severity": severity,
        "condition": "bp_critical",
        "summary": SUMMARY,
        "reading_id": 41,
        "raised_at": NOW,
        **changes,
    }
    return Trigger.model_validate(fields)


def page(
    raised: Trigger,
    attempt: int = 1,
    role: OnCallRole = OnCallRole.NURSE,
    staff_id: str | None = None,
) -> PageRequest:
    return PageRequest(
        escalation_id=escalation_workflow_id(raised.dedup_key),
        trigger=raised,
        role=role,
        staff_id=staff_id,
        attempt=attempt,
    )


async def shift(
    pool: asyncpg.Pool,
    clinic_id: str,
    staff_id: str,
    *,
    role: OnCallRole = OnCallRole.NURSE,
    phone: str = NURSE_PHONE,
    routing_key: str | None = None,
    starts_at: datetime = NOW - timedelta(hours=12),
    hours: float = 24,
) -> OnCallEntry:
    return await add_shift(
        pool,
        Shift(
            clinic_id=clinic_id,
            role=role,
            staff_id=staff_id,
            display_name=f"Test {staff_id}",
            phone=phone,
            pager_routing_key=routing_key,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=hours),
        ),
    )


def providers_adapters(providers: HttpProviders, pool: asyncpg.Pool) -> Adapters:
    return adapters_from(
        Settings(
            pager_provider="pagerduty",
            pagerduty_events_base=providers.url,
            sms_provider="twilio",
            twilio_account_sid=TWILIO_ACCOUNT_SID,
            twilio_auth_token=SecretStr(TWILIO_AUTH_TOKEN),
            twilio_from_number=TWILIO_FROM,
            twilio_api_base=providers.url,
        ),
        pool,
    )


def paging(adapters: Adapters, pool: asyncpg.Pool) -> Paging:
    return Paging(pool, adapters.pager, adapters.senders[Channel.SMS])


async def ledger(pool: asyncpg.Pool, effect_key: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT * FROM notification_outbox WHERE effect_key = $1", effect_key
    )


# --- The on-call schedule --------------------------------------------------------------------


async def test_who_is_on_call_depends_on_clinic_role_and_time(db_pool: asyncpg.Pool) -> None:
    clinic, elsewhere = new_clinic(), new_clinic()
    day = NOW.replace(hour=8)
    await shift(db_pool, clinic, "nurse-day", starts_at=day, hours=12)
    await shift(db_pool, clinic, "nurse-night", starts_at=day + timedelta(hours=12), hours=12)
    # A cover shift inside the day shift: the latest to start wins.
    await shift(db_pool, clinic, "nurse-cover", starts_at=day + timedelta(hours=4), hours=2)
    await shift(db_pool, clinic, "psych", role=OnCallRole.PSYCHIATRIST, starts_at=day, hours=24)
    await shift(db_pool, elsewhere, "nurse-elsewhere", starts_at=day, hours=24)

    async def nurse(at: datetime, clinic_id: str = clinic) -> str | None:
        entry = await on_call(db_pool, clinic_id, OnCallRole.NURSE, at)
        return None if entry is None else entry.staff_id

    assert await nurse(day + timedelta(hours=2)) == "nurse-day"
    assert await nurse(day + timedelta(hours=5)) == "nurse-cover"
    assert await nurse(day + timedelta(hours=6)) == "nurse-day"  # the cover ended
    assert await nurse(day + timedelta(hours=12)) == "nurse-night"  # a shift's end is exclusive
    assert await nurse(day + timedelta(hours=24)) is None
    assert await nurse(day - timedelta(minutes=1)) is None
    assert await nurse(day + timedelta(hours=2), elsewhere) == "nurse-elsewhere"
    psych = await on_call(db_pool, clinic, OnCallRole.PSYCHIATRIST, day + timedelta(hours=20))
    assert psych is not None and psych.staff_id == "psych"
    assert await on_call(db_pool, clinic, OnCallRole.MEDICAL_DIRECTOR, NOW) is None
    # Every role at once (whom the console may reassign to): as `on_call`, in ladder order.
    for hours in (2, 5, 20, 25):
        at = day + timedelta(hours=hours)
        each = [await on_call(db_pool, clinic, role, at) for role in OnCallRole]
        assert await on_call_at(db_pool, clinic, at) == [entry for entry in each if entry]
    assert [e.staff_id for e in await on_call_at(db_pool, clinic, day + timedelta(hours=5))] == [
        "nurse-cover",
        "psych",
    ]


async def test_a_shift_added_again_is_updated_not_doubled(db_pool: asyncpg.Pool) -> None:
    clinic = new_clinic()
    first = await shift(db_pool, clinic, f"{clinic}-nurse")
    again = await shift(db_pool, clinic, f"{clinic}-nurse", routing_key=PAGER_ROUTING_KEY)

    assert again.id == first.id
    assert again.pager_routing_key == PAGER_ROUTING_KEY
    assert await by_staff(db_pool, f"{clinic}-nurse") == again


# --- page_on_call ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "expected"),
    [(Severity.CRITICAL, "critical"), (Severity.URGENT, "error"), (Severity.ROUTINE, "warning")],
)
async def test_a_page_reaches_the_pager_once_with_its_dedup_key(
    db_pool: asyncpg.Pool, providers: HttpProviders, severity: Severity, expected: str
) -> None:
    clinic = new_clinic()
    nurse = await shift(db_pool, clinic, f"{clinic}-nurse", routing_key=PAGER_ROUTING_KEY)
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call
    request = page(trigger(clinic, severity))
    key = f"{request.escalation_id}/page-1"

    first = await run(send, request, scheduled_at=NOW)
    retried = await run(send, request, scheduled_at=NOW)

    assert (
        first
        == retried
        == PageResult(staff_id=nurse.staff_id, channel=PageChannel.PAGER, provider_id=key)
    )
    [event] = providers.pager_events
    assert event == {
        "routing_key": PAGER_ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": SUMMARY,
            "source": f"trdflow/{clinic}",
            "severity": expected,
            "component": "bp_critical",
            "custom_details": {
                "escalation_id": request.escalation_id,
                "course_id": request.trigger.course_id,
                "clinic_id": clinic,
                "session": 2,
                "phase": "induction",
                "severity": severity.value,
                "condition": "bp_critical",
                "reading_id": 41,
                "role": "on_call_nurse",
                "attempt": 1,
            },
        },
    }
    row = await ledger(db_pool, key)
    assert row is not None
    assert (row["channel"], row["status"], row["provider"]) == ("pager", "sent", "pagerduty")
    assert providers.sms == []


async def test_a_long_summary_is_cut_to_the_events_api_limit(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    adapters = providers_adapters(providers, db_pool)

    await adapters.pager.trigger(
        PagerAlert(
            routing_key=PAGER_ROUTING_KEY,
            dedup_key="escalation-long/page-1",
            summary="x" * 2000,
            severity="critical",
            source="trdflow/test",
            component="bp_critical",
            details={},
        )
    )

    [event] = providers.pager_events
    assert event["payload"]["summary"] == "x" * 1024


async def test_a_page_the_pager_refuses_goes_by_sms_and_is_never_retried(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    clinic = new_clinic()
    nurse = await shift(db_pool, clinic, f"{clinic}-nurse", routing_key=PAGER_ROUTING_KEY)
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call
    request = page(trigger(clinic))
    key = f"{request.escalation_id}/page-1"
    providers.answer_next(400)

    first = await run(send, request, scheduled_at=NOW)
    retried = await run(send, request, scheduled_at=NOW)

    assert first.staff_id == nurse.staff_id
    assert first.channel is PageChannel.SMS
    assert first.provider_id is not None and first.provider_id.startswith("SM")
    assert retried == first
    assert providers.requests == 2  # the refused trigger and the SMS, nothing more
    assert providers.pager_events == []
    [sms] = providers.sms
    assert sms["To"] == NURSE_PHONE
    assert SUMMARY in sms["Body"] and request.escalation_id in sms["Body"]
    refused = await ledger(db_pool, key)
    assert refused is not None
    assert (refused["status"], refused["last_error"], refused["attempts"]) == (
        "failed",
        "pagerduty answered HTTP 400 (error invalid event)",
        1,
    )
    texted = await ledger(db_pool, f"{key}/sms")
    assert texted is not None and texted["status"] == "sent"


async def test_a_throttled_page_is_retried_then_sent_once(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    clinic = new_clinic()
    await shift(db_pool, clinic, f"{clinic}-nurse", routing_key=PAGER_ROUTING_KEY)
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call
    request = page(trigger(clinic))
    key = f"{request.escalation_id}/page-1"
    providers.answer_next(429)

    with pytest.raises(ApplicationError) as raised:
        await run(send, request, scheduled_at=NOW)
    assert raised.value.type == "ProviderUnavailable" and not raised.value.non_retryable
    pending = await ledger(db_pool, key)
    assert pending is not None
    assert (pending["status"], pending["last_error"]) == (
        "pending",
        "pagerduty answered HTTP 429 (error throttle exceeded)",
    )

    retried = await run(send, request, scheduled_at=NOW)
    await run(send, request, scheduled_at=NOW)

    assert retried.channel is PageChannel.PAGER
    assert len(providers.pager_events) == 1
    assert providers.sms == []
    sent = await ledger(db_pool, key)
    assert sent is not None and (sent["status"], sent["attempts"]) == ("sent", 2)


async def test_someone_without_a_pager_is_paged_by_sms(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    clinic = new_clinic()
    nurse = await shift(db_pool, clinic, f"{clinic}-nurse")
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call
    request = page(trigger(clinic))

    result = await run(send, request, scheduled_at=NOW)
    await run(send, request, scheduled_at=NOW)

    assert (result.staff_id, result.channel) == (nurse.staff_id, PageChannel.SMS)
    assert [m["To"] for m in providers.sms] == [NURSE_PHONE]
    assert providers.pager_events == []


async def test_the_local_default_keeps_pages_in_the_outbox(db_pool: asyncpg.Pool) -> None:
    clinic = new_clinic()
    await shift(db_pool, clinic, f"{clinic}-nurse", routing_key=PAGER_ROUTING_KEY)
    await shift(db_pool, clinic, f"{clinic}-psych", role=OnCallRole.PSYCHIATRIST)
    send = paging(local_adapters(db_pool), db_pool).page_on_call
    raised = trigger(clinic)
    by_pager = page(raised)
    by_sms = page(raised, attempt=2, role=OnCallRole.PSYCHIATRIST)

    paged = await run(send, by_pager, scheduled_at=NOW)
    texted = await run(send, by_sms, scheduled_at=NOW)

    assert paged.channel is texted.channel is PageChannel.OUTBOX
    key = f"{by_pager.escalation_id}/page-1"
    assert paged.provider_id == f"local:{key}"
    pager_row = await ledger(db_pool, key)
    sms_row = await ledger(db_pool, f"{by_sms.escalation_id}/page-2/sms")
    assert pager_row is not None and sms_row is not None
    assert (pager_row["provider"], pager_row["recipient"]) == ("outbox", PAGER_ROUTING_KEY)
    assert (sms_row["provider"], sms_row["recipient"]) == ("outbox", NURSE_PHONE)


async def test_nobody_on_call_pages_nobody(db_pool: asyncpg.Pool, providers: HttpProviders) -> None:
    clinic = new_clinic()
    await shift(db_pool, clinic, f"{clinic}-later", starts_at=NOW + timedelta(hours=1))
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call
    request = page(trigger(clinic))

    assert await run(send, request, scheduled_at=NOW) == PageResult(staff_id=None)
    assert providers.requests == 0
    assert await ledger(db_pool, f"{request.escalation_id}/page-1/sms") is None


async def test_a_reassigned_page_goes_to_the_named_person_on_shift_or_not(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    clinic = new_clinic()
    await shift(db_pool, clinic, f"{clinic}-nurse")
    psych = await shift(
        db_pool,
        clinic,
        f"{clinic}-psych",
        role=OnCallRole.PSYCHIATRIST,
        phone=PSYCHIATRIST_PHONE,
        starts_at=NOW - timedelta(days=3),
    )
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call

    result = await run(send, page(trigger(clinic), staff_id=psych.staff_id), scheduled_at=NOW)

    assert result.staff_id == psych.staff_id
    assert [m["To"] for m in providers.sms] == [PSYCHIATRIST_PHONE]


async def test_the_person_on_call_when_the_page_was_asked_for_is_paged_on_retry(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    clinic = new_clinic()
    await shift(db_pool, clinic, f"{clinic}-day", starts_at=NOW - timedelta(hours=1), hours=1)
    await shift(db_pool, clinic, f"{clinic}-night", phone=PSYCHIATRIST_PHONE, starts_at=NOW)
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call
    request = page(trigger(clinic))
    asked_at = NOW - timedelta(seconds=1)
    providers.answer_next(503)

    with pytest.raises(ApplicationError):
        await run(send, request, scheduled_at=asked_at)
    # The retry runs after the shift change, but belongs to the page asked for before it.
    result = await run(send, request, scheduled_at=asked_at)

    assert result.staff_id == f"{clinic}-day"
    assert [m["To"] for m in providers.sms] == [NURSE_PHONE]


async def test_each_attempt_is_a_page_of_its_own(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    clinic = new_clinic()
    await shift(db_pool, clinic, f"{clinic}-nurse", routing_key=PAGER_ROUTING_KEY)
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call
    raised = trigger(clinic)

    for attempt in (1, 2, 2, 1):
        await run(send, page(raised, attempt), scheduled_at=NOW)

    escalation_id = escalation_workflow_id(raised.dedup_key)
    assert [e["dedup_key"] for e in providers.pager_events] == [
        f"{escalation_id}/page-1",
        f"{escalation_id}/page-2",
    ]


async def test_page_logs_carry_ids_and_no_contacts(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    clinic = new_clinic()
    nurse = await shift(db_pool, clinic, f"{clinic}-nurse", routing_key=PAGER_ROUTING_KEY)
    send = paging(providers_adapters(providers, db_pool), db_pool).page_on_call
    request = page(trigger(clinic))
    providers.answer_next(400)

    with capture_logs(processors=[merge_contextvars]) as logs:
        await run(send, request, scheduled_at=NOW, workflow_id=request.escalation_id)

    assert logs
    for entry in logs:
        assert entry["course_id"] == request.trigger.course_id
        assert entry["session"] == 2
        assert entry["activity"] == "page_on_call"
        assert entry["escalation_id"] == request.escalation_id
    text = repr(logs)
    assert NURSE_PHONE not in text and nurse.display_name not in text
    assert PAGER_ROUTING_KEY not in text


# --- update_pager ----------------------------------------------------------------------------


async def test_the_pager_is_told_once_of_an_acknowledgement_and_a_resolve(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    clinic = new_clinic()
    await shift(db_pool, clinic, f"{clinic}-nurse", routing_key=PAGER_ROUTING_KEY)
    await shift(db_pool, clinic, f"{clinic}-psych", role=OnCallRole.PSYCHIATRIST)
    pager = paging(providers_adapters(providers, db_pool), db_pool)
    raised = trigger(clinic)
    escalation_id = escalation_workflow_id(raised.dedup_key)
    await run(pager.page_on_call, page(raised, 1), scheduled_at=NOW)
    await run(pager.page_on_call, page(raised, 2, OnCallRole.PSYCHIATRIST), scheduled_at=NOW)
    await run(pager.page_on_call, page(raised, 3), scheduled_at=NOW)
    other = trigger(clinic)
    await run(pager.page_on_call, page(other), scheduled_at=NOW)  # another escalation's page
    triggers = len(providers.pager_events)

    for action in (PagerAction.ACKNOWLEDGE, PagerAction.ACKNOWLEDGE, PagerAction.RESOLVE):
        await run(pager.update_pager, PagerUpdate(escalation_id=escalation_id, action=action))

    updates = providers.pager_events[triggers:]
    assert updates == [
        {"routing_key": PAGER_ROUTING_KEY, "event_action": action, "dedup_key": key}
        for action in ("acknowledge", "resolve")
        for key in (f"{escalation_id}/page-1", f"{escalation_id}/page-3")
    ]


async def test_an_escalation_never_paged_by_pager_needs_no_update(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    pager = paging(providers_adapters(providers, db_pool), db_pool)
    update = PagerUpdate(escalation_id="escalation-never-paged", action=PagerAction.RESOLVE)

    await run(pager.update_pager, update)

    assert providers.requests == 0


# --- record_escalation and the console's list ------------------------------------------------


def record(
    raised: Trigger,
    step: str,
    at: datetime,
    status: EscalationStatus = EscalationStatus.OPEN,
    actor: str = "system",
    **changes: object,
) -> EscalationRecord:
    return EscalationRecord.model_validate(
        {
            "escalation_id": escalation_workflow_id(raised.dedup_key),
            "trigger": raised,
            "status": status,
            "step": step,
            "actor": actor,
            "at": at,
            **changes,
        }
    )


@pytest.fixture
async def notifications(postgres_url: str) -> AsyncIterator[asyncio.Queue[str]]:
    """The payloads NOTIFYed on the escalations channel, as a LISTENing console hears them."""
    heard: asyncio.Queue[str] = asyncio.Queue()
    conn = await asyncpg.connect(postgres_url)
    await conn.add_listener(NOTIFY_CHANNEL, lambda *args: heard.put_nowait(args[3]))
    yield heard
    await conn.close()


async def heard_ids(heard: asyncio.Queue[str], count: int) -> list[str]:
    return [await asyncio.wait_for(heard.get(), timeout=5) for _ in range(count)]


async def test_each_step_is_recorded_once_audited_and_announced(
    db_pool: asyncpg.Pool, notifications: asyncio.Queue[str]
) -> None:
    clinic = new_clinic()
    raised = trigger(clinic)
    escalation_id = escalation_workflow_id(raised.dedup_key)
    write = EscalationRecords(db_pool).record_escalation
    steps = [
        record(raised, "raised", NOW),
        record(raised, "paged", NOW + timedelta(seconds=1), assigned_to="nurse-1"),
        record(raised, "paged", NOW + timedelta(minutes=5), assigned_to="psych-1"),
        record(
            raised,
            "acknowledged",
            NOW + timedelta(minutes=6),
            EscalationStatus.ACKNOWLEDGED,
            actor="psych-1",
        ),
    ]

    for step in steps:
        await run(write, step)
        await run(write, step)  # a retry

    assert await heard_ids(notifications, len(steps)) == [escalation_id] * len(steps)
    await asyncio.sleep(0.2)
    assert notifications.empty()  # a retried step writes nothing
    row = await escalations.get(db_pool, escalation_id)
    assert row is not None
    assert (row.status, row.pages, row.assigned_to) == (
        EscalationStatus.ACKNOWLEDGED,
        2,
        "psych-1",
    )
    assert (row.acknowledged_by, row.acknowledged_at) == ("psych-1", NOW + timedelta(minutes=6))
    assert row.last_paged_at == NOW + timedelta(minutes=5)
    assert (row.course_id, row.clinic_id, row.session, row.phase) == (
        raised.course_id,
        clinic,
        2,
        "induction",
    )
    assert (row.severity, row.summary, row.reading_id, row.raised_at) == (
        Severity.CRITICAL,
        SUMMARY,
        41,
        NOW,
    )
    audit = await db_pool.fetch(
        "SELECT actor, action, details FROM audit_log WHERE course_id = $1 ORDER BY id",
        raised.course_id,
    )
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("system", "escalation.raised"),
        ("system", "escalation.paged"),
        ("system", "escalation.paged"),
        ("psych-1", "escalation.acknowledged"),
    ]
    assert audit[3]["details"]["escalation_id"] == escalation_id
    assert audit[3]["details"]["status"] == "acknowledged"

    resolved = record(
        raised,
        "resolved",
        NOW + timedelta(minutes=30),
        EscalationStatus.RESOLVED,
        actor="psych-1",
        detail="Repeat BP 150/92; observed, discharged with ride",
    )
    await run(write, resolved)
    assert await heard_ids(notifications, 1) == [escalation_id]
    closed = await escalations.get(db_pool, escalation_id)
    assert closed is not None
    assert (closed.status, closed.resolved_by, closed.resolution_note) == (
        EscalationStatus.RESOLVED,
        "psych-1",
        resolved.detail,
    )
    last = await db_pool.fetchrow(
        "SELECT details FROM audit_log WHERE course_id = $1 ORDER BY id DESC LIMIT 1",
        raised.course_id,
    )
    assert last is not None and resolved.detail is not None
    assert resolved.detail not in str(last["details"])
    assert escalation_id not in [r.escalation_id for r in await escalations.list_open(db_pool)]


async def test_a_step_recorded_late_does_not_undo_a_newer_one(db_pool: asyncpg.Pool) -> None:
    raised = trigger(new_clinic())
    write = EscalationRecords(db_pool).record_escalation
    acknowledged = NOW + timedelta(minutes=2)
    await run(write, record(raised, "raised", NOW))
    await run(
        write,
        record(raised, "acknowledged", acknowledged, EscalationStatus.ACKNOWLEDGED, actor="n-1"),
    )
    await run(write, record(raised, "paged", NOW + timedelta(minutes=1), assigned_to="n-1"))

    row = await escalations.get(db_pool, escalation_workflow_id(raised.dedup_key))
    assert row is not None
    assert (row.status, row.acknowledged_at, row.pages) == (
        EscalationStatus.ACKNOWLEDGED,
        acknowledged,
        1,
    )


async def test_a_reassignment_opens_it_again_and_only_pages_reaching_someone_count(
    db_pool: asyncpg.Pool,
) -> None:
    raised = trigger(new_clinic())
    write = EscalationRecords(db_pool).record_escalation
    acknowledged = EscalationStatus.ACKNOWLEDGED
    for step in (
        record(raised, "raised", NOW),
        record(raised, "paged", NOW + timedelta(minutes=1)),  # nobody on call
        record(raised, "paged", NOW + timedelta(minutes=2), assigned_to="n-1"),
        record(raised, "acknowledged", NOW + timedelta(minutes=3), acknowledged, actor="n-1"),
        record(raised, "reassigned", NOW + timedelta(minutes=4), actor="n-1", assigned_to="p-1"),
    ):
        await run(write, step)

    row = await escalations.get(db_pool, escalation_workflow_id(raised.dedup_key))
    assert row is not None
    assert (row.status, row.assigned_to, row.acknowledged_at, row.acknowledged_by) == (
        EscalationStatus.OPEN,
        "p-1",
        None,
        None,
    )
    assert (row.pages, row.last_paged_at) == (1, NOW + timedelta(minutes=2))


async def test_the_current_rung_begins_at_its_latest_page_or_reassignment(
    db_pool: asyncpg.Pool,
) -> None:
    raised = trigger(new_clinic())
    write = EscalationRecords(db_pool).record_escalation
    minutes = [NOW + timedelta(minutes=m) for m in range(7)]

    async def rung_since(*steps: EscalationRecord) -> datetime:
        for step in steps:
            await run(write, step)
        row = await escalations.get(db_pool, escalation_workflow_id(raised.dedup_key))
        assert row is not None
        return row.rung_since

    assert await rung_since(record(raised, "raised", NOW)) == NOW
    # A page that reached nobody begins a rung all the same (the next follows at once).
    assert await rung_since(record(raised, "paged", minutes[1])) == minutes[1]
    assert (
        await rung_since(
            record(raised, "retriggered", minutes[3]),
            record(raised, "acknowledged", minutes[4], EscalationStatus.ACKNOWLEDGED, actor="n-1"),
        )
        == minutes[1]
    )
    reassigned = record(raised, "reassigned", minutes[6], actor="n-1", assigned_to="p-1")
    assert await rung_since(reassigned) == minutes[6]
    # An older page recorded late leaves the rung where it is.
    assert await rung_since(record(raised, "paged", minutes[5], assigned_to="n-1")) == minutes[6]


async def test_open_escalations_list_the_most_severe_then_the_newest(
    db_pool: asyncpg.Pool,
) -> None:
    clinic = new_clinic()
    write = EscalationRecords(db_pool).record_escalation
    raised = {
        "routine": trigger(clinic, Severity.ROUTINE, raised_at=NOW + timedelta(minutes=9)),
        "critical-old": trigger(clinic, Severity.CRITICAL, raised_at=NOW),
        "urgent": trigger(clinic, Severity.URGENT, raised_at=NOW + timedelta(minutes=1)),
        "critical-new": trigger(clinic, Severity.CRITICAL, raised_at=NOW + timedelta(minutes=2)),
        "resolved": trigger(clinic, Severity.CRITICAL, raised_at=NOW + timedelta(minutes=3)),
        "acknowledged": trigger(clinic, Severity.URGENT, raised_at=NOW + timedelta(minutes=4)),
    }
    for each in raised.values():
        await run(write, record(each, "raised", each.raised_at))
    await run(
        write,
        record(raised["resolved"], "resolved", NOW + timedelta(hours=1), EscalationStatus.RESOLVED),
    )
    await run(
        write,
        record(
            raised["acknowledged"],
            "acknowledged",
            NOW + timedelta(hours=1),
            EscalationStatus.ACKNOWLEDGED,
        ),
    )
    await run(write, record(trigger(new_clinic()), "raised", NOW))  # another clinic's

    listed = await escalations.list_open(db_pool, [clinic])

    names = {escalation_workflow_id(t.dedup_key): name for name, t in raised.items()}
    assert [names[row.escalation_id] for row in listed] == [
        "critical-new",
        "critical-old",
        "acknowledged",
        "urgent",
        "routine",
    ]
    everywhere = {row.escalation_id for row in await escalations.list_open(db_pool)}
    assert {row.escalation_id for row in listed} < everywhere
