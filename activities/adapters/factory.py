"""The adapters the settings choose: a provider each, or the local outbox by default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from activities.adapters.email import SmtpEmail
from activities.adapters.local import OutboxPager, OutboxRemsPortal, OutboxSender
from activities.adapters.pager import PagerDutyEvents
from activities.adapters.ports import Pager, RemsPortal, Sender
from activities.adapters.rems_portal import PortalRems
from activities.adapters.sms import TwilioSms
from domain.notices import Channel
from worker.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Adapters:
    senders: Mapping[Channel, Sender]
    rems_portal: RemsPortal
    pager: Pager = field(default_factory=OutboxPager)


def local_adapters(pool: asyncpg.Pool) -> Adapters:
    return Adapters(
        senders={Channel.SMS: OutboxSender(), Channel.EMAIL: OutboxSender()},
        rems_portal=OutboxRemsPortal(pool),
    )


def adapters_from(settings: Settings, pool: asyncpg.Pool) -> Adapters:
    """Raises ValueError naming an env var a chosen provider still needs."""
    return Adapters(
        senders={Channel.SMS: _sms(settings), Channel.EMAIL: _email(settings)},
        rems_portal=_rems_portal(settings, pool),
        pager=_pager(settings),
    )


def _sms(settings: Settings) -> Sender:
    if settings.sms_provider == "outbox":
        return OutboxSender()
    return TwilioSms(
        account_sid=_needed(settings.twilio_account_sid, "TWILIO_ACCOUNT_SID"),
        auth_token=_needed(settings.twilio_auth_token, "TWILIO_AUTH_TOKEN").get_secret_value(),
        from_number=_needed(settings.twilio_from_number, "TWILIO_FROM_NUMBER"),
        api_base=settings.twilio_api_base,
    )


def _email(settings: Settings) -> Sender:
    if settings.email_provider == "outbox":
        return OutboxSender()
    password = settings.smtp_password
    return SmtpEmail(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=_needed(settings.smtp_from, "SMTP_FROM"),
        username=settings.smtp_username,
        password=password.get_secret_value() if password else None,
    )


def _rems_portal(settings: Settings, pool: asyncpg.Pool) -> RemsPortal:
    if settings.rems_provider == "outbox":
        return OutboxRemsPortal(pool)
    return PortalRems(
        url=_needed(settings.rems_portal_url, "REMS_PORTAL_URL"),
        token=_needed(settings.rems_portal_token, "REMS_PORTAL_TOKEN").get_secret_value(),
    )


def _pager(settings: Settings) -> Pager:
    if settings.pager_provider == "outbox":
        return OutboxPager()
    return PagerDutyEvents(events_base=settings.pagerduty_events_base)


def _needed(value: T | None, env_var: str) -> T:
    if value is None:
        raise ValueError(f"{env_var} must be set for the provider chosen")
    return value
