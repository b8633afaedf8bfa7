"""What the activities ask of the outside world; each port has a provider and a local default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from domain.escalation import PagerAction
from domain.rems import RemsMonitoringForm


@dataclass(frozen=True)
class OutgoingMessage:
    effect_key: str
    """Also the message's idempotency reference where a provider takes one."""
    to: str
    subject: str
    """E-mail only."""
    body: str


class Sender(Protocol):
    provider: str

    async def send(self, message: OutgoingMessage) -> str:
        """Hand the message over; returns the provider's message id.

        Raises ProviderRejected (permanent) or ProviderUnavailable (transient).
        """
        ...


class RemsPortal(Protocol):
    provider: str

    async def submit(self, form: RemsMonitoringForm) -> str:
        """Submit the form; returns the portal's submission id. Raises like Sender.send."""
        ...


@dataclass(frozen=True)
class PagerAlert:
    """A page in the shape of the PagerDuty Events API v2. Nothing in it may be PHI: it is
    shown on phones and kept by the pager service."""

    routing_key: str
    dedup_key: str
    """The page's effect key: a repeated trigger with it is deduplicated by the service."""
    summary: str
    severity: Literal["critical", "error", "warning", "info"]
    source: str
    component: str
    details: Mapping[str, str | int | None]


class Pager(Protocol):
    provider: str

    async def trigger(self, alert: PagerAlert) -> str:
        """Page; returns the dedup key the service accepted. Raises like Sender.send."""
        ...

    async def update(self, routing_key: str, dedup_key: str, action: PagerAction) -> str:
        """Acknowledge or resolve a page; returns its dedup key. Raises like Sender.send."""
        ...
