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


def test_the_environment_is_development_unless_production_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TRDFLOW_ENV", raising=False)
    assert not Settings().production

    monkeypatch.setenv("TRDFLOW_ENV", "production")
    assert Settings().production

    monkeypatch.setenv("TRDFLOW_ENV", "prod")  # a typo must not pass for development
    with pytest.raises(ValidationError, match="TRDFLOW_ENV"):
        Settings()
