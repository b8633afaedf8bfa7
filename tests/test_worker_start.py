"""A worker started while the Temporal server is down waits for it instead of exiting for good:
after a server crash, the worker a supervisor restarts first must still end up serving."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.localstack import free_port
from cli.stack import venv_binary
from domain.contract import SEARCH_ATTRIBUTES, TASK_QUEUE
from tests.chaos import Process
from tests.histories.keys import TEST_KEY, TEST_KEY_ID

pytestmark = pytest.mark.devserver

RETRYING = '"event": "server_unreachable_retrying"'
STARTED = '"event": "worker_started"'
WAIT_POLLS = 600
"""A tenth of a second apart: a minute for a line to appear."""


async def logged(log_file: Path) -> str:
    return await asyncio.to_thread(log_file.read_text)


async def until_logged(log_file: Path, line: str, times: int = 1) -> None:
    for _ in range(WAIT_POLLS):
        if (await logged(log_file)).count(line) >= times:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never logged {line}:\n{await logged(log_file)}")


def worker_process(work: str, port: int, postgres_url: str, **env: str) -> Process:
    """The worker as a process of its own, for a server on `port`, logging under `work`."""
    return Process(
        [sys.executable, "-m", "worker.main"],
        {
            **os.environ,
            "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
            "DATABASE_URL": postgres_url,
            "TRDFLOW_STATE_DIR": work,
            "TRDFLOW_CODEC_KEYS": json.dumps({TEST_KEY_ID: TEST_KEY}),
            **env,
        },
        Path(work) / "worker.log",
    )


async def test_a_worker_started_before_the_server_serves_once_it_is_up(postgres_url: str) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="trdflow-worker-") as work:
        worker = worker_process(work, port, postgres_url)
        log_file = worker.log_file
        await worker.start()
        assert worker.process is not None
        try:
            await until_logged(log_file, RETRYING, times=2)  # refused: nothing listens yet
            assert worker.process.returncode is None, await logged(log_file)

            async with await WorkflowEnvironment.start_local(
                port=port,
                dev_server_existing_path=str(venv_binary("temporal")),
                search_attributes=SEARCH_ATTRIBUTES,
            ):
                await until_logged(log_file, STARTED)
                worker.process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(worker.process.wait(), 30) == 0
        finally:
            await worker.kill()


async def probe(port: int, path: str) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    return answer.status_code, answer.json()


async def until_ready(port: int, process: Process) -> dict[str, str]:
    for _ in range(WAIT_POLLS):
        status, body = await probe(port, "/readyz")
        if status == 200:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready:\n{await logged(process.log_file)}")


async def test_a_worker_reports_its_health_under_its_identity_and_stops_on_sigterm(
    postgres_url: str,
) -> None:
    port, health_port = free_port(), free_port()
    identity = "worker-7@fleet-test"
    with tempfile.TemporaryDirectory(prefix="trdflow-worker-") as work:
        worker = worker_process(
            work,
            port,
            postgres_url,
            TRDFLOW_WORKER_IDENTITY=identity,
            TRDFLOW_WORKER_HEALTH_PORT=str(health_port),
        )
        await worker.start()
        assert worker.process is not None
        try:
            await until_logged(worker.log_file, RETRYING)
            # Alive while it waits for the server, but not ready to take tasks.
            assert await probe(health_port, "/healthz") == (
                200,
                {"status": "ok", "identity": identity},
            )
            assert (await probe(health_port, "/readyz"))[0] == 503
            assert (await probe(health_port, "/elsewhere"))[0] == 404

            async with await WorkflowEnvironment.start_local(
                port=port,
                dev_server_existing_path=str(venv_binary("temporal")),
                search_attributes=SEARCH_ATTRIBUTES,
            ) as env:
                assert await until_ready(health_port, worker) == {
                    "status": "ready",
                    "identity": identity,
                }
                # The server lists a poller once its first poll has arrived, a moment after the
                # worker is ready (3 failed runs in 7 read the list at once).
                assert identity in await pollers_of(env.client, identity)

                worker.process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(worker.process.wait(), 30) == 0
        finally:
            await worker.kill()
        lines = [json.loads(line) for line in (await logged(worker.log_file)).splitlines()]
    events = [line["event"] for line in lines if line.get("worker") == identity]
    assert events.index("worker_started") < events.index("worker_stopped")
    assert all(line.get("worker") == identity for line in lines if "event" in line)


async def pollers_of(client: Client, expected: str) -> set[str]:
    """The identities polling the courses' task queue, once `expected` is among them (or as
    they are after 10 s)."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=TASK_QUEUE)
    )
    for _ in range(100):
        described = await client.workflow_service.describe_task_queue(request)
        identities = {poller.identity for poller in described.pollers}
        if expected in identities:
            break
        await asyncio.sleep(0.1)
    return identities
