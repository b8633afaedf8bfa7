"""Session reminders to the patient, by the channels they chose."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.adapters.ports import OutgoingMessage, Sender
from activities.delivery import deliver
from domain.course import PatientContact
from domain.notices import Channel
from domain.records import Delivery, DeliveryStatus, ReminderRequest
from domain.texts import REMINDER_SUBJECT, reminder_text
from store import patients

log = structlog.get_logger(__name__)


def reminder_key(request: ReminderRequest, channel: Channel) -> str:
    # The time is part of the key: a session moved to a new time is reminded of it again.
    return (
        f"course-{request.course_id}/session-{request.session}"
        f"/{request.scheduled_at:%Y%m%dT%H%M%z}/reminder-{request.hours_before}h/{channel}"
    )


class Reminders:
    def __init__(self, pool: asyncpg.Pool, senders: Mapping[Channel, Sender]) -> None:
        self._pool = pool
        self._senders = senders

    @activity.defn(name="send_reminder")
    async def send_reminder(self, request: ReminderRequest) -> list[Delivery]:
        """One delivery per channel: sent (once) where the patient asked for it."""
        contact = await patients.contact_for_course(self._pool, request.course_id)
        if contact is None:
            raise ApplicationError(
                "course not registered: run register_patient first",
                type="CourseNotRegistered",
                non_retryable=True,
            )
        body = reminder_text(request.scheduled_at, request.clinic_timezone)
        deliveries = []
        for channel in Channel:
            if channel not in contact.reminders_by:
                deliveries.append(Delivery(channel=channel, status=DeliveryStatus.NOT_REQUESTED))
                continue
            message = OutgoingMessage(
                effect_key=reminder_key(request, channel),
                to=_address(contact, channel),
                subject=REMINDER_SUBJECT,
                body=body,
            )
            deliveries.append(
                await deliver(
                    self._pool,
                    self._senders[channel],
                    message,
                    course_id=request.course_id,
                    channel=channel,
                    kind=f"reminder_{request.hours_before}h",
                    log=log,
                )
            )
        return deliveries


def _address(contact: PatientContact, channel: Channel) -> str:
    if channel is Channel.SMS:
        return contact.phone
    assert contact.email is not None  # PatientContact requires it for e-mail reminders
    return contact.email
