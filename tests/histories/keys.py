"""The test suite's FIXED codec key: test-only, it protects no real data.

The stored replay histories are encrypted with it, so the recorder, the test fixtures and the
replay test must all use this one key. Never configure it anywhere outside tests and benches.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from worker.settings import Settings

TEST_KEY_ID = "test-only-1"
TEST_KEY = "1q+qolJyqIWt2rEyoCYj671RRMIirRJLuQ8HlKTfCWY="  # base64 of 32 random bytes


def settings_with_test_key(state_dir: Path) -> Settings:
    """Settings whose codec uses the fixed test key."""
    return Settings(
        state_dir=state_dir,
        codec_keys={TEST_KEY_ID: SecretStr(TEST_KEY)},
        codec_active_key=TEST_KEY_ID,
    )
