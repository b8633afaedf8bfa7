"""A real local SMTP server standing in for the e-mail provider, from a per-test script; the
HTTP providers' stand-ins are `cli.standins`.

It speaks TLS as a relay does (STARTTLS, required, by default), with a certificate for
127.0.0.1 from a throwaway CA made for each server: `SmtpServer.trust` is what a client must
trust to reach it, as a deployment trusts its relay's CA."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ServerTls = Literal["starttls", "implicit", "none"]


@dataclass
class SmtpServer:
    """Accepts mail, except to the addresses in `refuse` (550, a permanent refusal)."""

    host: str = "127.0.0.1"
    port: int = 0
    trust: ssl.SSLContext = field(default_factory=ssl.create_default_context)
    """A client context that trusts this server's CA (and checks the host name)."""
    received: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        return "250 Message accepted for delivery"


@asynccontextmanager
async def smtp_server(tls: ServerTls = "starttls") -> AsyncIterator[SmtpServer]:
    """`tls`: STARTTLS offered and required before mail, TLS from the first byte, or plaintext
    only (what a stripping attacker presents)."""
    with tempfile.TemporaryDirectory(prefix="trdflow-smtp-") as work:
        ca_pem, cert_pem, key_pem = _certificates("127.0.0.1")
        cert_file, key_file = Path(work) / "cert.pem", Path(work) / "key.pem"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(cert_file, key_file)
        server = SmtpServer(
            port=_free_port(), trust=ssl.create_default_context(cadata=ca_pem.decode())
        )
        if tls == "starttls":
            controller = Controller(
                server,
                hostname=server.host,
                port=server.port,
                tls_context=server_tls,
                require_starttls=True,
            )
        elif tls == "implicit":
            controller = Controller(
                server, hostname=server.host, port=server.port, ssl_context=server_tls
            )
        else:
            controller = Controller(server, hostname=server.host, port=server.port)
        await asyncio.to_thread(controller.start)
        try:
            yield server
        finally:
            await asyncio.to_thread(controller.stop)


def _certificates(host: str) -> tuple[bytes, bytes, bytes]:
    """A throwaway CA's certificate, and a server certificate it signed for `host` with its
    key: PEM each."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trdflow test SMTP CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca_cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
