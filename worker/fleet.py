"""A worker among many: its identity, its health endpoint and its metrics.

Kubernetes, Compose and `make run` probe the worker over plain HTTP: `GET /healthz` answers
while the event loop turns (liveness), `GET /readyz` only while both lanes poll and Temporal
answers, and no longer once the worker is stopping (readiness); Prometheus scrapes the clinic's
metrics this worker's activities count at `GET /metrics`. The endpoint is a few lines of
asyncio rather than uvicorn: uvicorn takes over SIGTERM, which the worker needs for its own
graceful shutdown. The SDK's own metrics (task slots, latencies, polls) are served by its
runtime on a port of their own (`sdk_metrics`).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import structlog
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from worker import metrics
from worker.settings import Settings

log = structlog.get_logger(__name__)

PROBE_TIMEOUT = timedelta(seconds=2)
"""Temporal must answer a readiness probe by then: a probe must answer quickly itself."""
READ_TIMEOUT_SECONDS = 5.0
MAX_REQUEST_LINE = 4096


JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = JSON


def worker_identity(settings: Settings) -> str:
    """TRDFLOW_WORKER_IDENTITY, else the SDK's own default (`<pid>@<host>`)."""
    return settings.worker_identity or f"{os.getpid()}@{socket.gethostname()}"


@dataclass
class WorkerHealth:
    """What the probes report: set as the worker starts and stops."""

    identity: str
    client: Client | None = None
    lanes: tuple[Worker, ...] = ()
    stopping: bool = False

    async def readiness(self) -> tuple[bool, str]:
        if self.stopping:
            return False, "stopping"
        if not self.lanes or not all(lane.is_running for lane in self.lanes):
            return False, "not polling"
        assert self.client is not None
        try:
            await self.client.workflow_service.get_system_info(
                GetSystemInfoRequest(), retry=False, timeout=PROBE_TIMEOUT
            )
        except Exception as err:  # whatever the failure, the worker cannot take tasks now
            return False, f"temporal is down ({type(err).__name__})"
        return True, "ready"


@asynccontextmanager
async def health_endpoint(settings: Settings, health: WorkerHealth) -> AsyncIterator[None]:
    """Serve /healthz and /readyz on TRDFLOW_WORKER_HEALTH_PORT while the block runs (nothing
    when it is unset)."""
    if settings.worker_health_port is None:
        yield
        return

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                reply = await _route(reader, health)
            except ValueError:  # a line past the reader's limit
                reply = _status(400, "request too long", health)
            status = reply.status
            reason = {200: "OK", 404: "Not Found", 400: "Bad Request"}.get(status, "Unavailable")
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: {reply.content_type}\r\n"
                f"content-length: {len(reply.body)}\r\nconnection: close\r\n\r\n".encode()
                + reply.body
            )
            await writer.drain()
        except (ConnectionError, TimeoutError):
            pass  # the prober gave up first
        finally:
            writer.close()

    server = await asyncio.start_server(
        answer, settings.worker_health_host, settings.worker_health_port
    )
    log.info(
        "worker_health_endpoint_serving",
        host=settings.worker_health_host,
        port=settings.worker_health_port,
    )
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


async def _route(reader: asyncio.StreamReader, health: WorkerHealth) -> Reply:
    async with asyncio.timeout(READ_TIMEOUT_SECONDS):
        request_line = await reader.readline()
        # The headers: read and ignored (a probe sends nothing that changes the answer).
        while (await reader.readline()).strip():
            pass
    words = request_line[:MAX_REQUEST_LINE].decode("latin-1").split()
    if len(words) != 3 or words[0] not in ("GET", "HEAD"):
        return _status(400, "a GET of /healthz, /readyz or /metrics", health)
    path = words[1].split("?", 1)[0]
    if path == "/healthz":
        return _status(200, "ok", health)
    if path == "/readyz":
        ready, detail = await health.readiness()
        return _status(200 if ready else 503, detail, health)
    if path == metrics.METRICS_PATH:
        return Reply(200, metrics.exposition(), metrics.CONTENT_TYPE)
    return _status(404, "not found", health)


def _status(status: int, detail: str, health: WorkerHealth) -> Reply:
    return Reply(status, json.dumps({"status": detail, "identity": health.identity}).encode())


def sdk_metrics(settings: Settings, identity: str) -> None:
    """Have the SDK's runtime serve its own metrics (Prometheus, at /metrics) on
    TRDFLOW_WORKER_SDK_METRICS_PORT, for every client and worker made after this, each labelled
    with the worker's `identity`; nothing when it is unset. Durations in seconds and counters
    ending in `_total`, as Prometheus names them."""
    if settings.worker_sdk_metrics_port is None:
        return
    address = f"{settings.worker_health_host}:{settings.worker_sdk_metrics_port}"
    prometheus = PrometheusConfig(
        bind_address=address,
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )
    telemetry = TelemetryConfig(metrics=prometheus, global_tags={"worker": identity})
    Runtime.set_default(Runtime(telemetry=telemetry))
    log.info("worker_sdk_metrics_endpoint", address=address)
