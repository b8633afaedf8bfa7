"""Running the `trdflow` command line in-process, as a user would type it."""

from __future__ import annotations

import asyncio
import logging

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from tests.http_api import token_of
from worker.settings import get_settings

runner = CliRunner()


def invoke(*args: str) -> Result:
    # The CLI configures logging for the whole process; put the test run's logging back.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return runner.invoke(app, list(args))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def cli(*args: str) -> Result:
    # The CLI runs its own event loop, so it gets a thread; the worker keeps this loop.
    return await asyncio.to_thread(invoke, *args)


def acting_as(monkeypatch: pytest.MonkeyPatch, actor: str) -> None:
    """The CLI's caller from now on: the test token of `actor`."""
    monkeypatch.setenv("TRDFLOW_TOKEN", token_of(actor))
    get_settings.cache_clear()
