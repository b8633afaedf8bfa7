"""The payload codec: encryption, PHI hiding, key rotation and key loading."""

from __future__ import annotations

import base64
import stat
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from domain.course import PatientContact
from worker.codec import (
    ENCODING,
    KEY_ID_METADATA,
    CodecError,
    EncryptionCodec,
    Keyring,
    load_keyring,
)
from worker.settings import Settings

CONTACT = PatientContact(
    name="Jane Roe", phone="+15551234567", email="jane@example.org", date_of_birth=date(1980, 2, 3)
)
PHI = (b"Jane Roe", b"+15551234567", b"jane@example.org", b"1980-02-03")
OLD_KEY, NEW_KEY = b"o" * 32, b"n" * 32


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_through_the_converter(converter: DataConverter) -> None:
    payloads = await converter.encode([CONTACT])

    assert payloads[0].metadata["encoding"] == ENCODING
    assert await converter.decode(payloads, [PatientContact]) == [CONTACT]


async def test_phi_is_not_readable_in_encoded_bytes(converter: DataConverter) -> None:
    (payload,) = await converter.encode([CONTACT])
    wire = payload.SerializeToString()

    for secret in (*PHI, b"json/plain"):
        assert secret not in wire


async def test_failure_messages_are_encrypted_too(converter: DataConverter) -> None:
    failure = Failure()
    await converter.encode_failure(ApplicationError("bad phone +15551234567"), failure)

    assert b"+15551234567" not in failure.SerializeToString()


async def test_old_key_still_decodes_after_rotation() -> None:
    before = EncryptionCodec(Keyring(keys={"k1": OLD_KEY}, active="k1"))
    after = EncryptionCodec(Keyring(keys={"k1": OLD_KEY, "k2": NEW_KEY}, active="k2"))
    old = await before.encode([plain("x")])

    (new,) = await after.encode([plain("x")])

    assert await after.decode(old) == [plain("x")]
    assert new.metadata[KEY_ID_METADATA] == b"k2"


async def test_unknown_key_id_fails_clearly() -> None:
    encoded = await EncryptionCodec(Keyring(keys={"k1": OLD_KEY}, active="k1")).encode([plain("x")])
    other = EncryptionCodec(Keyring(keys={"k2": NEW_KEY}, active="k2"))

    with pytest.raises(CodecError, match="unknown encryption key id 'k1'"):
        await other.decode(encoded)


async def test_relabelled_key_id_fails_authentication() -> None:
    codec = EncryptionCodec(Keyring(keys={"k1": OLD_KEY, "k2": OLD_KEY}, active="k1"))
    (payload,) = await codec.encode([plain("x")])
    payload.metadata[KEY_ID_METADATA] = b"k2"

    with pytest.raises(CodecError, match="failed authentication"):
        await codec.decode([payload])


async def test_unencrypted_payloads_pass_through() -> None:
    codec = EncryptionCodec(Keyring(keys={"k1": OLD_KEY}, active="k1"))

    assert await codec.decode([plain("x")]) == [plain("x")]


def test_configured_keys_default_to_the_last_listed(tmp_path: Path) -> None:
    keys = {
        kid: SecretStr(base64.b64encode(key).decode())
        for kid, key in [("k1", OLD_KEY), ("k2", NEW_KEY)]
    }

    keyring = load_keyring(Settings(state_dir=tmp_path, codec_keys=keys, codec_active_key=None))

    assert keyring.active == "k2"
    assert keyring.keys == {"k1": OLD_KEY, "k2": NEW_KEY}


def test_short_keys_are_refused(tmp_path: Path) -> None:
    short = {"k1": SecretStr(base64.b64encode(b"short").decode())}

    with pytest.raises(CodecError, match="must be 32 bytes"):
        load_keyring(Settings(state_dir=tmp_path, codec_keys=short, codec_active_key=None))


def test_dev_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    dev = Settings(state_dir=tmp_path / "state", codec_keys=None, codec_active_key=None)

    first, second = load_keyring(dev), load_keyring(dev)

    assert first == second
    assert stat.S_IMODE(dev.codec_key_file.stat().st_mode) == 0o600
