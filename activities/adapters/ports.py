"""What the activities ask of the outside world; each port has a provider and a local default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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
