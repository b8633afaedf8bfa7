"""How a provider's refusal is classified: permanent (recorded, never retried) or transient
(Temporal retries with backoff).

Summaries are built from status codes and the provider's error code only, never from its
free text, which may quote a phone number or an address: they go to logs and to workflows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from temporalio.exceptions import ApplicationError


class ProviderRejected(Exception):
    """HTTP 4xx other than 429, or an SMTP 5xx: retrying would be refused again."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


class ProviderUnavailable(Exception):
    """HTTP 429 or 5xx, an SMTP 4xx, or no answer at all: worth another attempt."""

    def __init__(self, summary: str, retry_after: timedelta | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.retry_after = retry_after


def http_failure(
    provider: str, response: httpx.Response, error_code: object = None
) -> ProviderRejected | ProviderUnavailable:
    """The exception for a non-success answer; `error_code` is the provider's own code."""
    summary = f"{provider} answered HTTP {response.status_code}"
    if error_code is not None:
        summary += f" (error {error_code})"
    if response.status_code == httpx.codes.TOO_MANY_REQUESTS or response.is_server_error:
        return ProviderUnavailable(summary, _retry_after(response))
    return ProviderRejected(summary)


def answer_json(response: httpx.Response) -> dict[str, Any]:
    """The provider's JSON object answer, or {} when it sent something else."""
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def connection_failure(provider: str, error: Exception) -> ProviderUnavailable:
    return ProviderUnavailable(f"{provider} unreachable ({type(error).__name__})")


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("Retry-After", "")
    return timedelta(seconds=int(value)) if value.isdigit() else None


def retryable(err: ProviderUnavailable) -> ApplicationError:
    """What the activity raises: Temporal retries it, after the provider's Retry-After if any."""
    return ApplicationError(
        err.summary, type="ProviderUnavailable", next_retry_delay=err.retry_after
    )
