"""Process settings: a refused secret is named, never quoted."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from worker.settings import Settings

TOKEN = "supersecret-token-of-the-gateway-0001"
OTHER = "another-secret-token-of-a-nurse-0002"


def test_a_refused_api_token_entry_is_named_by_position_and_no_token_is_printed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries = {OTHER: {"actor": "nurse-a", "role": "staff"}, TOKEN: {"actor": "", "role": "x"}}
    monkeypatch.setenv("TRDFLOW_API_TOKENS", json.dumps(entries))

    with pytest.raises(ValidationError) as refused:
        Settings()

    message = str(refused.value)
    assert "entry 2 (actor)" in message and "entry 2 (role)" in message
    assert TOKEN not in message and OTHER not in message


def test_a_refused_secret_is_not_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRDFLOW_CODEC_KEYS", json.dumps({"k1": 98765432123456789}))

    with pytest.raises(ValidationError) as refused:
        Settings()

    assert "TRDFLOW_CODEC_KEYS.k1" in str(refused.value)
    assert "98765432123456789" not in str(refused.value)
