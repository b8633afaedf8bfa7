"""Reminders and ride requests through real local providers: sent once, refusals recorded,
transient failures retried."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import pytest
from pydantic import SecretStr
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError

from activities.adapters.email import SmtpEmail, SmtpTls
from activities.adapters.errors import ProviderUnavailable
from activities.adapters.factory import Adapters, adapters_from, local_adapters
from activities.adapters.ports import OutgoingMessage
from activities.patients import PatientRegistry
from activities.reminders import Reminders, reminder_key
from activities.transport import TransportRequests
from cli.standins import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM, HttpProviders
from domain.contract import session_workflow_id
from domain.notices import Channel
from domain.records import (
    Delivery,
    DeliveryStatus,
    PatientRegistration,
    ReminderRequest,
    TransportRequest,
    TransportRequestStatus,
)
from store.transport import arrange_transport, confirm_transport_by_driver_phone
from tests.activity_runs import CLINIC_TIMEZONE, PATIENT, phi_of, registration, run
from tests.providers import SmtpServer, smtp_server
from worker.settings import Settings

SCHEDULED = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)  # Tuesday 09:00 in New York
DRIVER_NAME = "Robert Driverperson"
DRIVER_PHONE = "+15557770002"

REMINDER_CONTENT = (
    "Tuesday 3 March 2026 at 09:00 EST",
    "no food for 2 hours and no liquids for 30 minutes",
    "nasal corticosteroid or decongestant spray, use it at least 1 hour before",
    "Arrange a ride home",
    "must not drive until the next day, after a restful sleep",
)


def twilio(providers: HttpProviders, pool: asyncpg.Pool) -> Adapters:
    return adapters_from(
        Settings(
            sms_provider="twilio",
            twilio_account_sid=TWILIO_ACCOUNT_SID,
            twilio_auth_token=SecretStr(TWILIO_AUTH_TOKEN),
            twilio_from_number=TWILIO_FROM,
            twilio_api_base=providers.url,
        ),
        pool,
    )


def smtp_adapters(smtp: SmtpServer, pool: asyncpg.Pool) -> Adapters:
    adapters = adapters_from(
        Settings(
            email_provider="smtp",
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            smtp_from="clinic@trdflow.test",
        ),
        pool,
    )
    assert isinstance(adapters.senders[Channel.EMAIL], SmtpEmail)
    # The same sender, trusting the stand-in's throwaway CA as a deployment trusts its relay's.
    return replace(adapters, senders={**adapters.senders, Channel.EMAIL: smtp_email(smtp)})


def smtp_email(smtp: SmtpServer, tls: SmtpTls | None = None) -> SmtpEmail:
    return SmtpEmail(
        host=smtp.host,
        port=smtp.port,
        sender="clinic@trdflow.test",
        tls=tls,
        tls_context=smtp.trust,
    )


async def registered(
    pool: asyncpg.Pool, reminders_by: frozenset[Channel] = frozenset({Channel.SMS})
) -> PatientRegistration:
    course = registration(reminders_by)
    await run(PatientRegistry(pool).register_patient, course)
    return course


def reminder(course: PatientRegistration, hours_before: int = 48) -> ReminderRequest:
    return ReminderRequest(
        course_id=course.course_id,
        session=1,
        scheduled_at=SCHEDULED,
        hours_before=hours_before,
        clinic_timezone=CLINIC_TIMEZONE,
    )


async def outbox_row(pool: asyncpg.Pool, effect_key: str) -> asyncpg.Record:
    rows = await pool.fetch("SELECT * FROM notification_outbox WHERE effect_key = $1", effect_key)
    assert len(rows) == 1
    return rows[0]


def by_channel(deliveries: list[Delivery]) -> dict[Channel, Delivery]:
    return {d.channel: d for d in deliveries}


async def test_a_reminder_sms_is_sent_once_however_often_the_activity_runs(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    course = await registered(db_pool)
    send = Reminders(db_pool, twilio(providers, db_pool).senders).send_reminder

    first = by_channel(await run(send, reminder(course)))
    again = by_channel(await run(send, reminder(course)))

    sms = first[Channel.SMS]
    assert sms.status is DeliveryStatus.SENT
    assert sms.provider_id is not None and sms.provider_id.startswith("SM")
    assert first[Channel.EMAIL].status is DeliveryStatus.NOT_REQUESTED
    assert again[Channel.SMS] == sms.model_copy(update={"status": DeliveryStatus.ALREADY_SENT})
    [message] = providers.sms
    assert (message["To"], message["From"]) == (PATIENT.phone, TWILIO_FROM)
    assert all(text in message["Body"] for text in REMINDER_CONTENT)
    row = await outbox_row(db_pool, reminder_key(reminder(course), Channel.SMS))
    assert (row["status"], row["provider"], row["provider_id"]) == (
        "sent",
        "twilio",
        sms.provider_id,
    )
    assert row["attempts"] == 1 and row["sent_at"] is not None


async def test_each_reminder_time_is_its_own_effect(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    course = await registered(db_pool)
    send = Reminders(db_pool, twilio(providers, db_pool).senders).send_reminder

    await run(send, reminder(course, hours_before=48))
    await run(send, reminder(course, hours_before=24))

    assert len(providers.sms) == 2


async def test_a_refused_sms_is_recorded_as_failed_and_never_retried(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    course = await registered(db_pool)
    send = Reminders(db_pool, twilio(providers, db_pool).senders).send_reminder
    providers.answer_next(400)

    first = by_channel(await run(send, reminder(course)))
    again = by_channel(await run(send, reminder(course)))

    expected = Delivery(
        channel=Channel.SMS,
        status=DeliveryStatus.FAILED,
        error="twilio answered HTTP 400 (error 21211)",
    )
    assert first[Channel.SMS] == again[Channel.SMS] == expected
    assert providers.requests == 1
    assert providers.sms == []
    row = await outbox_row(db_pool, reminder_key(reminder(course), Channel.SMS))
    assert (row["status"], row["last_error"], row["attempts"]) == ("failed", expected.error, 1)


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_rate_limits_and_server_errors_retry_then_send_once(
    db_pool: asyncpg.Pool, providers: HttpProviders, status: int
) -> None:
    course = await registered(db_pool)
    send = Reminders(db_pool, twilio(providers, db_pool).senders).send_reminder
    key = reminder_key(reminder(course), Channel.SMS)
    providers.answer_next(status)

    with pytest.raises(ApplicationError) as raised:
        await run(send, reminder(course))
    assert not raised.value.non_retryable
    assert raised.value.type == "ProviderUnavailable"
    pending = await outbox_row(db_pool, key)
    assert (pending["status"], pending["attempts"]) == ("pending", 1)
    assert pending["last_error"] == raised.value.message

    retried = by_channel(await run(send, reminder(course)))
    once_more = by_channel(await run(send, reminder(course)))

    assert retried[Channel.SMS].status is DeliveryStatus.SENT
    assert once_more[Channel.SMS].status is DeliveryStatus.ALREADY_SENT
    assert len(providers.sms) == 1
    sent = await outbox_row(db_pool, key)
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 2, None)


async def test_an_email_reminder_reaches_the_smtp_server_once(
    db_pool: asyncpg.Pool, smtp: SmtpServer
) -> None:
    course = await registered(db_pool, frozenset({Channel.EMAIL}))
    send = Reminders(db_pool, smtp_adapters(smtp, db_pool).senders).send_reminder

    first = by_channel(await run(send, reminder(course)))
    again = by_channel(await run(send, reminder(course)))

    assert first[Channel.SMS].status is DeliveryStatus.NOT_REQUESTED
    assert first[Channel.EMAIL].status is DeliveryStatus.SENT
    assert again[Channel.EMAIL].status is DeliveryStatus.ALREADY_SENT
    [received] = smtp.received
    assert received["To"] == PATIENT.email
    assert received["From"] == "clinic@trdflow.test"
    assert received["Subject"] == "Reminder: your treatment appointment"
    assert received["Message-ID"] == first[Channel.EMAIL].provider_id
    body = received.get_content()
    assert all(text in body for text in REMINDER_CONTENT)


async def test_a_refused_email_is_recorded_as_failed(
    db_pool: asyncpg.Pool, smtp: SmtpServer
) -> None:
    course = await registered(db_pool, frozenset({Channel.EMAIL}))
    send = Reminders(db_pool, smtp_adapters(smtp, db_pool).senders).send_reminder
    assert PATIENT.email is not None
    smtp.refuse.add(PATIENT.email)

    deliveries = by_channel(await run(send, reminder(course)))

    assert deliveries[Channel.EMAIL].status is DeliveryStatus.FAILED
    assert deliveries[Channel.EMAIL].error == "smtp answered 550"
    assert smtp.received == []


MAIL = OutgoingMessage(
    effect_key="reminder/c-1/1/email", to="jane@example.org", subject="Reminder", body="hello"
)


async def test_email_goes_over_starttls_with_the_certificate_checked(smtp: SmtpServer) -> None:
    await smtp_email(smtp).send(MAIL)

    [received] = smtp.received  # the stand-in takes no mail before STARTTLS
    assert received["To"] == MAIL.to


async def test_email_goes_over_implicit_tls() -> None:
    async with smtp_server(tls="implicit") as smtp:
        await smtp_email(smtp, tls="implicit").send(MAIL)

        assert len(smtp.received) == 1


async def test_a_server_that_offers_no_starttls_gets_nothing_in_plaintext() -> None:
    async with smtp_server(tls="none") as smtp:
        with pytest.raises(ProviderUnavailable, match="smtp offered no STARTTLS"):
            await smtp_email(smtp).send(MAIL)

        assert smtp.received == []


async def test_a_server_whose_certificate_is_not_trusted_gets_nothing(smtp: SmtpServer) -> None:
    # The system's CAs only, as a deployment without the relay's CA would have.
    untrusting = SmtpEmail(host=smtp.host, port=smtp.port, sender="clinic@trdflow.test")

    with pytest.raises(ProviderUnavailable, match="smtp unreachable"):
        await untrusting.send(MAIL)

    assert smtp.received == []


async def test_the_local_default_keeps_reminders_in_the_outbox(db_pool: asyncpg.Pool) -> None:
    course = await registered(db_pool, frozenset({Channel.SMS, Channel.EMAIL}))
    send = Reminders(db_pool, local_adapters(db_pool).senders).send_reminder

    deliveries = by_channel(await run(send, reminder(course)))

    for channel, recipient in ((Channel.SMS, PATIENT.phone), (Channel.EMAIL, PATIENT.email)):
        key = reminder_key(reminder(course), channel)
        assert deliveries[channel] == Delivery(
            channel=channel, status=DeliveryStatus.SENT, provider_id=f"local:{key}"
        )
        row = await outbox_row(db_pool, key)
        assert (row["status"], row["provider"], row["recipient"]) == ("sent", "outbox", recipient)
        assert all(text in row["body"] for text in REMINDER_CONTENT)


async def test_a_reminder_for_an_unregistered_course_fails_for_good(
    db_pool: asyncpg.Pool,
) -> None:
    send = Reminders(db_pool, local_adapters(db_pool).senders).send_reminder

    with pytest.raises(ApplicationError) as raised:
        await run(send, reminder(registration()))

    assert raised.value.non_retryable
    assert raised.value.type == "CourseNotRegistered"


def ride(course: PatientRegistration) -> TransportRequest:
    return TransportRequest(
        course_id=course.course_id,
        session=1,
        scheduled_at=SCHEDULED,
        clinic_timezone=CLINIC_TIMEZONE,
    )


async def test_the_driver_is_asked_once_and_their_reply_confirms_the_ride(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    course = await registered(db_pool)
    request = TransportRequests(db_pool, twilio(providers, db_pool).senders[Channel.SMS])
    await arrange_transport(
        db_pool,
        course.course_id,
        1,
        driver_name=DRIVER_NAME,
        driver_phone=DRIVER_PHONE,
        arranged_by="nurse-1",
    )

    first = await run(request.request_transport_confirmation, ride(course))
    again = await run(request.request_transport_confirmation, ride(course))

    assert first.status is again.status is TransportRequestStatus.REQUESTED
    assert first.delivery is not None and first.delivery.status is DeliveryStatus.SENT
    [message] = providers.sms
    assert message["To"] == DRIVER_PHONE
    assert "Reply YES" in message["Body"] and "Tuesday 3 March 2026" in message["Body"]
    assert await confirm_transport_by_driver_phone(db_pool, DRIVER_PHONE) == (
        course.course_id,
        1,
    )
    assert await confirm_transport_by_driver_phone(db_pool, DRIVER_PHONE) is None
    row = await db_pool.fetchrow(
        "SELECT request_provider_id, confirmed_via FROM transport_arrangements "
        "WHERE course_id = $1",
        course.course_id,
    )
    assert row is not None
    assert (row["request_provider_id"], row["confirmed_via"]) == (
        first.delivery.provider_id,
        "driver_sms",
    )


async def test_another_driver_named_is_asked_too(
    db_pool: asyncpg.Pool, providers: HttpProviders
) -> None:
    course = await registered(db_pool)
    request = TransportRequests(db_pool, twilio(providers, db_pool).senders[Channel.SMS])
    for phone in (DRIVER_PHONE, "+15557770003"):
        await arrange_transport(
            db_pool,
            course.course_id,
            1,
            driver_name=DRIVER_NAME,
            driver_phone=phone,
            arranged_by="nurse-1",
        )
        await run(request.request_transport_confirmation, ride(course))

    assert [m["To"] for m in providers.sms] == [DRIVER_PHONE, "+15557770003"]
    # The first driver's request is void: their late YES confirms nothing.
    assert await confirm_transport_by_driver_phone(db_pool, DRIVER_PHONE) is None


async def test_no_driver_arranged_means_no_request(db_pool: asyncpg.Pool) -> None:
    course = await registered(db_pool)
    request = TransportRequests(db_pool, local_adapters(db_pool).senders[Channel.SMS])

    result = await run(request.request_transport_confirmation, ride(course))

    assert result.status is TransportRequestStatus.NO_DRIVER
    assert result.delivery is None


async def test_the_logs_carry_ids_and_no_phi(
    db_pool: asyncpg.Pool, providers: HttpProviders, smtp: SmtpServer
) -> None:
    course = await registered(db_pool, frozenset({Channel.SMS, Channel.EMAIL}))
    adapters = Adapters(
        senders={
            Channel.SMS: twilio(providers, db_pool).senders[Channel.SMS],
            Channel.EMAIL: smtp_adapters(smtp, db_pool).senders[Channel.EMAIL],
        },
        rems_portal=local_adapters(db_pool).rems_portal,
    )
    send = Reminders(db_pool, adapters.senders).send_reminder
    request = TransportRequests(db_pool, adapters.senders[Channel.SMS])
    await arrange_transport(
        db_pool,
        course.course_id,
        1,
        driver_name=DRIVER_NAME,
        driver_phone=DRIVER_PHONE,
        arranged_by="nurse-1",
    )
    providers.answer_next(400, 500)  # a refusal quoting the number, then a server error

    session = session_workflow_id(course.course_id, 1)
    with capture_logs(processors=[merge_contextvars]) as logs:
        await run(send, reminder(course, hours_before=48), workflow_id=session)
        with pytest.raises(ApplicationError):
            await run(request.request_transport_confirmation, ride(course), workflow_id=session)
        await run(request.request_transport_confirmation, ride(course), workflow_id=session)
        await run(send, reminder(course, hours_before=24), workflow_id=session)
        await run(send, reminder(course, hours_before=24), workflow_id=session)

    assert len(logs) >= 6
    for entry in logs:
        assert entry["course_id"] == course.course_id
        assert entry["session"] == 1
        assert entry["workflow_id"] == session
        assert entry["activity"] in {"send_reminder", "request_transport_confirmation"}
    text = repr(logs)
    body_line = REMINDER_CONTENT[1]
    for phi in (*phi_of(PATIENT), DRIVER_NAME, DRIVER_PHONE, body_line):
        assert phi not in text


def test_a_chosen_provider_names_the_setting_it_still_needs(
    monkeypatch: pytest.MonkeyPatch, db_pool: asyncpg.Pool
) -> None:
    monkeypatch.setenv("TRDFLOW_SMS_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", TWILIO_ACCOUNT_SID)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)

    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        adapters_from(Settings(), db_pool)
