"""Shared fixtures: settings, converter, embedded Postgres, time-skipping Temporal."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from cli.localstack import migrated_postgres, time_skipping_server
from cli.room import ClinicApi
from cli.simulation import DEMO_CLINIC, DEMO_PROTOCOL
from cli.standins import HttpProviders, http_providers
from store import protocols
from store.db import create_pool
from tests.cli_runs import acting_as
from tests.histories.keys import settings_with_test_key
from tests.http_api import NURSE, api_client, api_settings, install_test_tokens, token_of
from tests.providers import SmtpServer, smtp_server
from tests.sessions import InRoom, discharge_if_dosed, discontinue, scheduled_session
from worker.client import exit_process
from worker.converter import data_converter
from worker.main import Workers, build_worker
from worker.settings import Settings, get_settings

EXIT_STATUS = pytest.StashKey[int]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[EXIT_STATUS] = exitstatus


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the run with its own status: interpreter finalization can crash while temporalio's
    core threads still hand over a call's result (see `worker.client.exit_process`)."""
    exit_process(config.stash.get(EXIT_STATUS, pytest.ExitCode.INTERNAL_ERROR))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The fixed key: the stored replay histories are encrypted with it.
    return settings_with_test_key(tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="session")
def converter(settings: Settings) -> DataConverter:
    return data_converter(settings)


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    # Not pytest's tmp_path: a second pytest run starting meanwhile makes its base folder
    # owner-only again, which locks PostgreSQL (its own system user when run as root) out.
    with tempfile.TemporaryDirectory(prefix="trdflow-tests-") as work:
        async with migrated_postgres(Path(work) / "data") as url:
            yield url


@pytest.fixture
def cli_db(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the CLI at the test suite's PostgreSQL, acting as the test nurse (every clinic)."""
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("TRDFLOW_TOKEN", token_of("nurse-test"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def cli_env(
    client: Client, settings: Settings, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point the CLI at the test server and the suite's PostgreSQL, with the test suite's codec
    keys, acting as the test nurse."""
    assert settings.codec_keys is not None
    keys = {kid: secret.get_secret_value() for kid, secret in settings.codec_keys.items()}
    monkeypatch.setenv("TEMPORAL_ADDRESS", client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", client.namespace)
    monkeypatch.setenv("TRDFLOW_CODEC_KEYS", json.dumps(keys))
    monkeypatch.setenv("TRDFLOW_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    acting_as(monkeypatch, "nurse-test")
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
async def db_pool(postgres_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(postgres_url)
    # The demo clinic runs the demo protocol, as `make run` publishes it.
    await protocols.publish(pool, DEMO_CLINIC, DEMO_PROTOCOL, "tests")
    await install_test_tokens(pool)
    yield pool
    await pool.close()


# One time-skipping server per test module: a test that leaves it stuck (the test server
# can wedge on a query that raced a run's end) cannot stall the modules after it.
@pytest.fixture(scope="module")
async def env(converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server(converter) as environment:
        yield environment


@pytest.fixture(scope="module")
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture(scope="module")
async def worker(client: Client, db_pool: asyncpg.Pool) -> AsyncIterator[Workers]:
    """The project's own worker (every workflow and activity) on the test server."""
    async with build_worker(client, db_pool) as running:
        yield running


@pytest.fixture
async def api(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP API in-process, over the test server and the embedded Postgres; send each
    request with `tests.http_api.bearer(actor)`."""
    async with api_client(api_settings(settings), client, db_pool) as http:
        yield http


@pytest.fixture(scope="module")
async def clinic(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> AsyncIterator[ClinicApi]:
    """The HTTP API signed in as a nurse: how the simulated clinic works in the room."""
    async with api_client(api_settings(settings), client, db_pool, actor=NURSE) as http:
        yield ClinicApi(http)


@pytest.fixture
async def providers() -> AsyncIterator[HttpProviders]:
    """Twilio's Messages API and the REMS portal, played by a local HTTP server."""
    async with http_providers() as running:
        yield running


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    """A local SMTP server that keeps what it receives."""
    async with smtp_server() as running:
        yield running


@pytest.fixture
async def room(
    api: httpx.AsyncClient, clinic: ClinicApi, env: WorkflowEnvironment, db_pool: asyncpg.Pool
) -> AsyncIterator[InRoom]:
    """A new course's first session, scheduled far enough ahead for both reminders."""
    room = await scheduled_session(api, clinic, env, db_pool, "room")
    yield room
    # Leave nothing that wakes up as the shared clock runs on: it would slow the later tests.
    await discharge_if_dosed(room)
    await discontinue(env.client, room.course_id)
