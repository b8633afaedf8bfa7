"""A throwaway simulation stack: embedded Postgres, the time-skipping server and the worker.

The session fixtures use the parts; the history recorder and the bench use the whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from cli.room import ClinicApi, quiet
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


class QuietQueries(Interceptor):
    """Every query waits until its workflow has no task in flight.

    The time-skipping test server loses a query that it buffers behind a task which ends the
    run (continue-as-new, completion), and the lost query then blocks time skipping for the
    whole server. A real server answers such a query; this only works around the test server.
    """

    def __init__(self) -> None:
        self.client: Client | None = None

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _QuietQueriesOutbound(next, self)


class _QuietQueriesOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, owner: QuietQueries) -> None:
        super().__init__(next)
        self._owner = owner

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        if self._owner.client is not None:
            await quiet(self._owner.client, input.id)
        return await super().query_workflow(input)


@asynccontextmanager
async def time_skipping_server(converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    quiet_queries = QuietQueries()
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter,
        interceptors=[quiet_queries],
        test_server_existing_path=str(venv_binary("temporal-test-server")),
    )
    quiet_queries.client = environment.client
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
