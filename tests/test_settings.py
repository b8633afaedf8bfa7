"""Process settings: a refused secret is named, never quoted."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from worker.settings import Settings


def test_a_refused_secret_is_not_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRDFLOW_CODEC_KEYS", json.dumps({"k1": 98765432123456789}))

    with pytest.raises(ValidationError) as refused:
        Settings()

    assert "TRDFLOW_CODEC_KEYS.k1" in str(refused.value)
    assert "98765432123456789" not in str(refused.value)
