"""Live updates: Postgres LISTEN on the `escalations` channel, fanned out to the open consoles.

The `escalations` table notifies its channel on every change. One connection, taken from the
pool while at least one console watches, listens; each watcher learns only *that* something
changed and reads the list again, so a burst of changes costs one read per console.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from store.escalations import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)


class Watcher:
    def __init__(self) -> None:
        self._changed = asyncio.Event()
        self.lost = False
        """The listening connection closed: changes may have been missed from then on."""

    async def changed(self, within: float) -> bool:
        """Whether something changed (or the feed was lost) within `within` seconds, since
        the last call."""
        try:
            await asyncio.wait_for(self._changed.wait(), within)
        except TimeoutError:
            return False
        self._changed.clear()
        return True

    def notify(self, *, lost: bool = False) -> None:
        self.lost = self.lost or lost
        self._changed.set()


class LiveFeed:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy | None = None
        self._watchers: set[Watcher] = set()
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def watch(self) -> AsyncIterator[Watcher]:
        """A watcher of changes from now on, for as long as the block runs."""
        watcher = Watcher()
        async with self._lock:
            if self._conn is None:
                await self._listen()
            self._watchers.add(watcher)
        try:
            yield watcher
        finally:
            # Shielded: a stream ends by cancellation (the browser left), and the connection
            # must go back to the pool all the same.
            await asyncio.shield(self._leave(watcher))

    async def _leave(self, watcher: Watcher) -> None:
        async with self._lock:
            self._watchers.discard(watcher)
            if not self._watchers:
                await self._unlisten()

    async def _listen(self) -> None:
        conn = await self._pool.acquire()
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        except BaseException:
            await self._pool.release(conn)
            raise
        conn.add_termination_listener(self._terminated)
        self._conn = conn
        log.info("console_feed_listening")

    async def _unlisten(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.remove_termination_listener(self._terminated)
        await conn.remove_listener(NOTIFY_CHANNEL, self._notified)
        await self._pool.release(conn)
        log.info("console_feed_stopped")

    def _notified(self, *_: object) -> None:
        for watcher in self._watchers:
            watcher.notify()

    def _terminated(self, *_: object) -> None:
        # The pool takes the closed connection back itself. The next watcher listens on a
        # fresh one; those watching now end their streams (the page reconnects and reads the
        # list anew, so nothing missed stays missed).
        log.warning("console_feed_lost")
        self._conn = None
        for watcher in self._watchers:
            watcher.notify(lost=True)
        self._watchers.clear()
