"""An ASGI app served for real (uvicorn on a free loopback port, in the caller's event loop).

For what the in-process transport cannot do: hold a Server-Sent Events stream open, or serve a
browser.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

STARTUP_POLLS = 500


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # A stream still open at the end is cut after a second rather than awaited.
        config = uvicorn.Config(app, log_config=None, lifespan="off", timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            for _ in range(STARTUP_POLLS):
                if server.started:
                    break
                if task.done():
                    await task  # raises why it stopped, if it raised
                    raise RuntimeError("uvicorn stopped while starting")
                await asyncio.sleep(0.01)
            else:
                raise TimeoutError("uvicorn did not start")
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task
