"""AES-256-GCM payload encryption, with key ids so keys can be rotated."""

from __future__ import annotations

import base64
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

from worker.files import PrivateFileError, create_private_once, read_private
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

    def __init__(
        self, keyring: Keyring, *, strict: bool = True, allow_plaintext: bool = True
    ) -> None:
        self._ciphers = {kid: AESGCM(key) for kid, key in keyring.keys.items()}
        self._active = keyring.active
        self._strict = strict
        self._allow_plaintext = allow_plaintext

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
            log.warning("payload_left_sealed", reason=str(err))
            return payload

    def _decode_one(self, payload: Payload) -> Payload:
        # Payloads written before encryption was enabled (or by other SDKs) pass through,
        # where plaintext is allowed.
        if payload.metadata.get("encoding") != ENCODING:
            if not self._allow_plaintext:
                raise CodecError("payload is not encrypted")
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
    """Keys from TRDFLOW_CODEC_KEYS, or else (outside production) the dev key file, created on
    first use. Raises CodecError naming every problem of the keys, never quoting a key."""
    raw = configured_keys(settings)
    problems = key_problems(raw, settings.codec_active_key)
    if problems:
        source = (
            "TRDFLOW_CODEC_KEYS" if settings.codec_keys is not None else settings.codec_key_file
        )
        raise CodecError(f"{source}: {'; '.join(problems)}")
    keys = {kid: base64.b64decode(value) for kid, value in raw.items()}
    # Keys are listed oldest first, so the last one is the newest.
    active = settings.codec_active_key or list(keys)[-1]
    return Keyring(keys=keys, active=active)


def configured_keys(settings: Settings) -> dict[str, str]:
    """Key id -> base64 key, as configured (not yet checked)."""
    if settings.codec_keys is not None:
        return {kid: secret.get_secret_value() for kid, secret in settings.codec_keys.items()}
    if settings.production:
        # A key minted on one host is unknown to the others, and gone with its disk.
        raise CodecError(
            "TRDFLOW_CODEC_KEYS is not set: in production (TRDFLOW_ENV=production) the dev key "
            f"file {settings.codec_key_file} is never read or created"
        )
    return _read_or_create_dev_keys(settings.codec_key_file)


def key_problems(raw: Mapping[str, str], active: str | None) -> list[str]:
    """Every reason these keys cannot be used, in any environment: not base64, not 32 bytes,
    all zeros, the same key under two ids, or an active id not listed. Names ids, never keys."""
    if not raw:
        return ["no codec keys configured"]
    problems = []
    first_id_of: dict[bytes, str] = {}
    for kid, value in raw.items():
        try:
            key = base64.b64decode(value, validate=True)
        except ValueError:  # binascii.Error, or a str that is not ASCII
            problems.append(f"codec key {kid!r} is not valid base64")
            continue
        if len(key) != KEY_BYTES:
            problems.append(f"codec key {kid!r} must be {KEY_BYTES} bytes, not {len(key)}")
        elif key == bytes(KEY_BYTES):
            problems.append(f"codec key {kid!r} is all zeros")
        elif key in first_id_of:
            # Rotation to a "new" id that is the old key rotates nothing.
            problems.append(f"codec keys {first_id_of[key]!r} and {kid!r} are the same key")
        else:
            first_id_of[key] = kid
    if active is not None and active not in raw:
        problems.append(f"active codec key id {active!r} (TRDFLOW_CODEC_ACTIVE_KEY) is not listed")
    return problems


def generate_key() -> str:
    """A new random key, base64-encoded as TRDFLOW_CODEC_KEYS expects it."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _read_or_create_dev_keys(path: Path) -> dict[str, str]:
    try:
        create_private_once(path, json.dumps({DEV_KEY_ID: generate_key()}))
        keys = json.loads(read_private(path))
    except PrivateFileError as err:
        raise CodecError(str(err)) from None
    except json.JSONDecodeError:
        keys = None
    if not isinstance(keys, dict):
        raise CodecError(f"{path} must hold a JSON object of key id -> base64 key")
    return {str(kid): str(value) for kid, value in keys.items()}
