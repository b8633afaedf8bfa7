"""The data converter every client and worker of the project uses."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from worker.codec import EncryptionCodec, load_keyring
from worker.settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads, encrypted by the codec.

    Failure messages and stack traces go into encoded attributes too: a validation error
    can quote its input, which may be PHI. A payload that cannot be decrypted stays sealed, so
    only its own message is refused (see `EncryptionCodec`).
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(load_keyring(settings), strict=False),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
