"""AES-256-GCM payload encryption, with key ids so keys can be rotated."""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from worker.files import create_private_once
from worker.settings import Settings

log = structlog.get_logger()

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12
DEV_KEY_ID = "dev-1"


class CodecError(ValueError):
    """A payload cannot be decrypted, or the key configuration is unusable."""


@dataclass(frozen=True)
class Keyring:
    keys: Mapping[str, bytes]
    active: str

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise CodecError(f"active codec key id {self.active!r} is not among the keys")
        for kid, key in self.keys.items():
            if len(key) != KEY_BYTES:
                raise CodecError(f"codec key {kid!r} must be {KEY_BYTES} bytes, not {len(key)}")


class EncryptionCodec(PayloadCodec):
    """Encrypts each whole Payload proto (metadata included, so the encoding is hidden too).

    A strict codec raises on a payload it cannot decrypt. A lenient one (the workers' and
    clients') leaves it sealed: a sealed payload has no converter, so the SDK refuses just that
    message (an Update is rejected, a signal dropped) instead of failing the whole workflow task
    that carries it, which would wedge the workflow.
    """

    def __init__(self, keyring: Keyring, *, strict: bool = True) -> None:
        self._ciphers = {kid: AESGCM(key) for kid, key in keyring.keys.items()}
        self._active = keyring.active
        self._strict = strict

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        kid = self._active.encode()
        cipher = self._ciphers[self._active]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            # The key id is authenticated data: swapping it in the metadata breaks decryption.
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), kid)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID_METADATA: kid},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_or_keep(payload) for payload in payloads]

    def _decode_or_keep(self, payload: Payload) -> Payload:
        try:
            return self._decode_one(payload)
        except CodecError as err:
            if self._strict:
                raise
            log.warning("payload left sealed", reason=str(err))
            return payload

    def _decode_one(self, payload: Payload) -> Payload:
        # Payloads written before encryption was enabled (or by other SDKs) pass through.
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        kid = payload.metadata.get(KEY_ID_METADATA, b"").decode()
        cipher = self._ciphers.get(kid)
        if cipher is None:
            known = ", ".join(sorted(self._ciphers))
            raise CodecError(f"unknown encryption key id {kid!r} (configured: {known})")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, kid.encode())
        except InvalidTag as err:
            raise CodecError(f"payload failed authentication under key {kid!r}") from err
        return Payload.FromString(plain)


def load_keyring(settings: Settings) -> Keyring:
    """Keys from TRDFLOW_CODEC_KEYS, or else the dev key file (created on first use)."""
    if settings.codec_keys is not None:
        raw = {kid: secret.get_secret_value() for kid, secret in settings.codec_keys.items()}
    else:
        raw = _read_or_create_dev_keys(settings.codec_key_file)
    if not raw:
        raise CodecError("no codec keys configured")
    keys = {kid: _decode_key(kid, value) for kid, value in raw.items()}
    # Keys are listed oldest first, so the last one is the newest.
    active = settings.codec_active_key or list(keys)[-1]
    return Keyring(keys=keys, active=active)


def generate_key() -> str:
    """A new random key, base64-encoded as TRDFLOW_CODEC_KEYS expects it."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _decode_key(kid: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as err:
        raise CodecError(f"codec key {kid!r} is not valid base64") from err


def _read_or_create_dev_keys(path: Path) -> dict[str, str]:
    create_private_once(path, json.dumps({DEV_KEY_ID: generate_key()}))
    keys = json.loads(path.read_text())
    if not isinstance(keys, dict):
        raise CodecError(f"{path} must hold a JSON object of key id -> base64 key")
    return {str(kid): str(value) for kid, value in keys.items()}
