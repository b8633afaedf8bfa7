"""Twilio's webhook signature (X-Twilio-Signature): base64 HMAC-SHA1, keyed with the account's
auth token, over the full URL followed by each POST parameter's name and value, sorted."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_signed(auth_token: str, url: str, params: Iterable[tuple[str, str]], given: str) -> bool:
    expected = signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), given.encode())
