"""API bearer tokens: from TRDFLOW_API_TOKENS, or else the local stack's dev token file."""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping
from pathlib import Path

from pydantic import TypeAdapter

from worker.files import create_private_once
from worker.settings import ApiIdentity, ApiRole, Settings

DEV_ACTORS: tuple[tuple[str, ApiRole], ...] = (
    ("gateway-demo", "service"),
    ("nurse-demo", "staff"),
    ("dr-demo", "staff"),
)
"""The dev token file signs in one device gateway and two clinic staff."""

_TOKEN_FILE = TypeAdapter(dict[str, ApiIdentity])


class TokenTable:
    def __init__(self, tokens: Mapping[str, ApiIdentity]) -> None:
        if not tokens:
            raise ValueError("no API tokens configured")
        self._entries = [(token.encode(), identity) for token, identity in tokens.items()]

    def identify(self, token: str) -> ApiIdentity | None:
        presented = token.encode()
        found = None
        for known, identity in self._entries:
            # Every token is compared, so the time taken tells nothing about which matched.
            if hmac.compare_digest(presented, known):
                found = identity
        return found


def load_tokens(settings: Settings) -> TokenTable:
    if settings.api_tokens is not None:
        tokens = {token.get_secret_value(): who for token, who in settings.api_tokens.items()}
    else:
        tokens = read_or_create_dev_tokens(settings.api_token_file)
    return TokenTable(tokens)


def read_or_create_dev_tokens(path: Path) -> dict[str, ApiIdentity]:
    """The dev token file (created once, owner-only): the same shape as TRDFLOW_API_TOKENS."""
    fresh = {
        secrets.token_urlsafe(32): {"actor": actor, "role": role} for actor, role in DEV_ACTORS
    }
    create_private_once(path, json.dumps(fresh, indent=2) + "\n")
    return _TOKEN_FILE.validate_json(path.read_bytes())
