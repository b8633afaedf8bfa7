"""Sign-in throttling: a client with too many failed sign-ins waits before it may try again."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

MAX_FAILURES = 10
WINDOW_S = 300.0


class SignInThrottle:
    """At most `limit` failed sign-ins per client within `window` seconds, in this process.

    Tokens hold 256 random bits, so this guards the audit log and the database from a flood
    more than it guards the tokens from guessing."""

    def __init__(
        self,
        limit: int = MAX_FAILURES,
        window: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self._limit

    def failed(self, client: str) -> None:
        self._recent(client).append(self._clock())

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures[client]
        since = self._clock() - self._window
        while failures and failures[0] <= since:
            failures.popleft()
        return failures
