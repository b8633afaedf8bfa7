"""What every request handler needs, injected once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from temporalio.client import Client

from worker.settings import Settings


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    client: Client
    pool: asyncpg.Pool


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Ctx = Annotated[ApiContext, Depends(get_context)]
