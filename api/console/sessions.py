"""Console sign-in sessions: a cookie signed with HMAC-SHA256, and the CSRF token derived from it.

Nothing is kept on the server: the cookie holds who signed in, until when, and a random nonce;
the CSRF token is an HMAC of that nonce, so only a page served to that session knows it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, ValidationError

from worker.files import create_private_once
from worker.settings import ApiIdentity, Settings

SESSION_LENGTH = timedelta(hours=12)
"""A shift: after it, staff sign in again."""

MIN_SECRET_LENGTH = 32

_COOKIE_PURPOSE = b"console-session\x00"
_CSRF_PURPOSE = b"console-csrf\x00"


class ConsoleSession(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str
    expires: int
    """Unix seconds."""
    nonce: str

    @property
    def identity(self) -> ApiIdentity:
        return ApiIdentity(actor=self.actor, role="staff")

    def valid_at(self, now: float) -> bool:
        return now < self.expires


class SessionSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, actor: str, now: float) -> tuple[ConsoleSession, str]:
        """A new session for `actor`, and its cookie value."""
        session = ConsoleSession(
            actor=actor,
            expires=int(now + SESSION_LENGTH.total_seconds()),
            nonce=secrets.token_urlsafe(16),
        )
        payload = _b64(session.model_dump_json().encode())
        return session, f"{payload}.{self._sign(_COOKIE_PURPOSE, payload)}"

    def read(self, cookie: str, now: float) -> ConsoleSession | None:
        """The session of a cookie this signer issued and that has not expired; else None."""
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature, self._sign(_COOKIE_PURPOSE, payload)):
            return None
        try:
            session = ConsoleSession.model_validate_json(base64.urlsafe_b64decode(payload))
        except (ValidationError, binascii.Error, ValueError):
            return None
        return session if session.valid_at(now) else None

    def csrf_token(self, session: ConsoleSession) -> str:
        return self._sign(_CSRF_PURPOSE, session.nonce)

    def csrf_ok(self, session: ConsoleSession, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token(session))

    def _sign(self, purpose: bytes, message: str) -> str:
        return _b64(hmac.digest(self._secret, purpose + message.encode(), hashlib.sha256))


def load_console_secret(settings: Settings) -> bytes:
    """TRDFLOW_CONSOLE_SECRET, else the dev secret file (created once, owner-only)."""
    if settings.console_secret is not None:
        secret = settings.console_secret.get_secret_value()
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"TRDFLOW_CONSOLE_SECRET needs {MIN_SECRET_LENGTH} characters or more")
        return secret.encode()
    path = settings.console_secret_file
    create_private_once(path, secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip().encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()
