"""`trdflow` run as a clinic system runs it, one process per command against a Temporal dev
server: every run ends with the command's own exit status.

A process that ended right after a Temporal call used to die at exit now and then (`Fatal Python
error: PyGILState_Release`, status -6, or a segfault) after doing its work; see
`worker.client.exit_process`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from cli.errors import FAILED
from cli.stack import venv_binary
from tests.http_api import token_of

pytestmark = pytest.mark.devserver

ROUNDS = 12
"""Each round runs every call once; a run takes about 2 s of CPU, mostly imports."""
PARALLEL = 2


@dataclass(frozen=True)
class Call:
    args: tuple[str, ...]
    status: int
    says: str
    """Text the run's stdout or stderr must hold: the command did its work."""


LIST = Call(("course", "list", "--json"), 0, "[]")
CALLS = (
    # Twice: with its output piped, the old exit failed most often here (about 1 run in 10).
    LIST,
    LIST,
    Call(("course", "status", "no-such-course", "--json"), FAILED, "not found"),
)


@dataclass(frozen=True)
class Run:
    call: Call
    status: int
    output: str

    @property
    def wrong(self) -> bool:
        return (
            self.status != self.call.status
            or self.call.says not in self.output
            or "Fatal Python error" in self.output
        )


@pytest.fixture(scope="module")
async def temporal_address() -> AsyncIterator[str]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(venv_binary("temporal"))
    )
    try:
        yield env.client.service_client.config.target_host
    finally:
        await env.shutdown()


@pytest.mark.usefixtures("db_pool")  # the suite's PostgreSQL, with the test tokens in it
async def test_every_run_exits_with_its_own_status(
    temporal_address: str, postgres_url: str, tmp_path: Path
) -> None:
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_address,
        "TRDFLOW_STATE_DIR": str(tmp_path),
        "DATABASE_URL": postgres_url,
        "TRDFLOW_TOKEN": token_of("nurse-test"),  # the CLI's caller
    }
    trdflow = str(venv_binary("trdflow"))
    slots = asyncio.Semaphore(PARALLEL)

    async def run(call: Call) -> Run:
        async with slots:
            process = await asyncio.create_subprocess_exec(
                trdflow,
                *call.args,
                env=environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            stdout, stderr = await process.communicate()
        assert process.returncode is not None
        return Run(call, process.returncode, (stdout + stderr).decode())

    runs = await asyncio.gather(*(run(call) for call in CALLS * ROUNDS))

    wrong = [run for run in runs if run.wrong]
    assert not wrong, f"{len(wrong)} of {len(runs)} runs ended wrong; the first: {wrong[0]}"
