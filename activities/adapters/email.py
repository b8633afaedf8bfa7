"""E-mail over SMTP (aiosmtplib), always over verified TLS: implicit TLS on port 465, else
STARTTLS, required. A server that does not offer STARTTLS is refused, never written to in
plaintext: stripping the offer is how an attacker on the path would read the patient's e-mail
and the SMTP credentials."""

from __future__ import annotations

import hashlib
import ssl
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from activities.adapters.errors import ProviderRejected, ProviderUnavailable, connection_failure
from activities.adapters.ports import OutgoingMessage

TIMEOUT_SECONDS = 30.0
IMPLICIT_TLS_PORT = 465
"""SMTP submission over TLS from the first byte (RFC 8314); other ports upgrade by STARTTLS."""

SmtpTls = Literal["starttls", "implicit"]


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
        tls: SmtpTls | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: None for implicit TLS on port 465, STARTTLS elsewhere. `tls_context`: whom
        to trust (None: the system's CAs, with the host name checked)."""
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._tls: SmtpTls = tls or ("implicit" if port == IMPLICIT_TLS_PORT else "starttls")
        self._tls_context = tls_context

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
                use_tls=self._tls == "implicit",
                start_tls=self._tls == "starttls",  # True: required, not "if offered"
                validate_certs=True,
                tls_context=self._tls_context,
                timeout=TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise self._refusal(err.recipients[0].code) from err
        except aiosmtplib.SMTPResponseException as err:
            raise self._refusal(err.code) from err
        except aiosmtplib.SMTPException as err:
            if "STARTTLS" in str(err):  # aiosmtplib's own text, when the server offers none
                raise ProviderUnavailable(f"{self.provider} offered no STARTTLS") from err
            raise connection_failure(self.provider, err) from err
        except OSError as err:  # ssl.SSLError (a certificate not trusted) included
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
