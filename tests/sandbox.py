"""A throwaway simulation stack: embedded Postgres, the time-skipping server and the worker.

The session fixtures use the parts; the history recorder and the bench use the whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from cli.room import ClinicApi
from cli.stack import register_search_attributes, venv_binary
from store.db import create_pool
from store.embedded import start_postgres
from store.migrate import migrate
from tests.histories.keys import settings_with_test_key
from tests.http_api import NURSE, api_client, api_settings
from worker.converter import data_converter
from worker.main import build_worker


@asynccontextmanager
async def migrated_postgres(data_dir: Path) -> AsyncIterator[str]:
    """A fresh embedded Postgres with the project's schema; yields its URL."""
    postgres = await start_postgres(data_dir)
    try:
        pool = await create_pool(postgres.url)
        try:
            await migrate(pool)
        finally:
            await pool.close()
        yield postgres.url
    finally:
        await postgres.stop()


@asynccontextmanager
async def time_skipping_server(converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter,
        test_server_existing_path=str(venv_binary("temporal-test-server")),
    )
    try:
        # The test server refuses unregistered search attributes ("search attribute ... is not
        # defined"), but implements AddSearchAttributes.
        await register_search_attributes(environment.client)
        yield environment
    finally:
        await environment.shutdown()


@asynccontextmanager
async def simulation(work_dir: Path) -> AsyncIterator[tuple[WorkflowEnvironment, ClinicApi]]:
    """The whole stack under `work_dir` (an existing, empty folder), with the worker running,
    the fixed test key and the HTTP API signed in as a nurse."""
    settings = settings_with_test_key(work_dir / "state")
    async with (
        migrated_postgres(work_dir / "postgres") as url,
        time_skipping_server(data_converter(settings)) as env,
    ):
        pool = await create_pool(url)
        try:
            async with (
                build_worker(env.client, pool),
                api_client(api_settings(settings), env.client, pool, actor=NURSE) as http,
            ):
                yield env, ClinicApi(http)
        finally:
            await pool.close()
