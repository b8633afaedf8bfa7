"""PagerDuty's webhook signature (v3 webhooks): `X-PagerDuty-Signature: v1=<hex>`, the hex
HMAC-SHA256 of the raw request body keyed with the subscription's secret. While a secret is
being rotated the header lists several, comma-separated; one match is enough."""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_signed(secret: str, body: bytes, header: str) -> bool:
    expected = signature(secret, body).encode()
    given = (part.strip().encode() for part in header.split(","))
    # Every candidate is compared, so the time taken does not reveal which one matched.
    return sum(hmac.compare_digest(expected, candidate) for candidate in given) > 0
