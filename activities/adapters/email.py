"""E-mail over SMTP (aiosmtplib); STARTTLS whenever the server offers it."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage

import aiosmtplib

from activities.adapters.errors import ProviderRejected, ProviderUnavailable, connection_failure
from activities.adapters.ports import OutgoingMessage

TIMEOUT_SECONDS = 30.0


class SmtpEmail:
    provider = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password

    async def send(self, message: OutgoingMessage) -> str:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject
        # The same effect always has the same Message-ID, so a receiving system can drop the
        # duplicate a crash after sending would cause (see activities/delivery.py).
        email["Message-ID"] = _message_id(message.effect_key, self._sender)
        email.set_content(message.body)
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                timeout=TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise self._refusal(err.recipients[0].code) from err
        except aiosmtplib.SMTPResponseException as err:
            raise self._refusal(err.code) from err
        except (aiosmtplib.SMTPException, OSError) as err:
            raise connection_failure(self.provider, err) from err
        return str(email["Message-ID"])

    def _refusal(self, code: int) -> ProviderRejected | ProviderUnavailable:
        # SMTP 5xx is permanent, 4xx transient. The server's text may quote the address:
        # only the code is kept.
        summary = f"{self.provider} answered {code}"
        return ProviderRejected(summary) if 500 <= code < 600 else ProviderUnavailable(summary)


def _message_id(effect_key: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "trdflow.local"
    return f"<{hashlib.sha256(effect_key.encode()).hexdigest()[:32]}@{domain}>"
