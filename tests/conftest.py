"""Shared fixtures: settings, converter, embedded Postgres, time-skipping Temporal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cli.stack import register_search_attributes, venv_binary
from store.db import create_pool
from store.embedded import start_postgres
from store.migrate import migrate
from worker.codec import generate_key
from worker.converter import data_converter
from worker.main import build_worker
from worker.settings import Settings

TEST_KEY_ID = "test-1"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        state_dir=tmp_path_factory.mktemp("state"),
        codec_keys={TEST_KEY_ID: SecretStr(generate_key())},
        codec_active_key=TEST_KEY_ID,
    )


@pytest.fixture(scope="session")
def converter(settings: Settings) -> DataConverter:
    return data_converter(settings)


@pytest.fixture(scope="session")
async def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    postgres = await start_postgres(tmp_path_factory.mktemp("postgres") / "data")
    try:
        pool = await create_pool(postgres.url)
        try:
            await migrate(pool)
        finally:
            await pool.close()
        yield postgres.url
    finally:
        await postgres.stop()


@pytest.fixture(scope="session")
async def db_pool(postgres_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(postgres_url)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def env(converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    test_server = venv_binary("temporal-test-server")
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter, test_server_existing_path=str(test_server)
    )
    # The test server refuses unregistered search attributes ("search attribute ... is not
    # defined"), but implements AddSearchAttributes.
    await register_search_attributes(environment.client)
    yield environment
    await environment.shutdown()


@pytest.fixture(scope="session")
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture(scope="session")
async def worker(client: Client, db_pool: asyncpg.Pool) -> AsyncIterator[Worker]:
    """The project's own worker (every workflow and activity) on the test server."""
    async with build_worker(client, db_pool) as running:
        yield running
