"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the parts it needs do)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from enum import StrEnum

import structlog
from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.context import Ctx
from api.errors import RETRY_AFTER_HEADER, Part, retry_after
from api.models import Health

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])

PROBE_TIMEOUT = timedelta(seconds=2)
"""A part that has not answered by then counts as down: a probe must answer quickly."""


class PartState(StrEnum):
    UP = "up"
    DOWN = "down"


class Readiness(BaseModel):
    detail: str = Field(description='"ready", or which parts are down.')
    postgres: PartState
    temporal: PartState


@router.get("/healthz", summary="Liveness", description="Always ok.")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    summary="Readiness",
    description=(
        "Checks PostgreSQL (`SELECT 1`) and Temporal (its system info) separately, each within "
        f"{PROBE_TIMEOUT.seconds} s: 200 when both answer, else 503 with `Retry-After`, naming "
        "each part that is down. Needs no token."
    ),
    responses={
        503: {
            "model": Readiness,
            "description": "A part is down.",
            "headers": RETRY_AFTER_HEADER,
        }
    },
)
async def readyz(ctx: Ctx, response: Response) -> Readiness:
    # No retries: a probe reports what it finds now.
    system_info = ctx.client.workflow_service.get_system_info(
        GetSystemInfoRequest(), retry=False, timeout=PROBE_TIMEOUT
    )
    postgres, temporal = await asyncio.gather(
        _probe(Part.POSTGRES, ctx.pool.fetchval("SELECT 1")),
        _probe(Part.TEMPORAL, system_info),
    )
    states = {Part.POSTGRES: postgres, Part.TEMPORAL: temporal}
    down = [part.value for part, state in states.items() if state is PartState.DOWN]
    if down:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers.update(retry_after())
    detail = f"{' and '.join(down)} {'is' if len(down) == 1 else 'are'} down" if down else "ready"
    return Readiness(detail=detail, postgres=postgres, temporal=temporal)


async def _probe(part: Part, check: Awaitable[object]) -> PartState:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT.total_seconds()):
            await check
    except Exception as err:  # whatever the failure, the part is not ready to serve
        log.warning("readiness_probe_failed", part=part.value, error=type(err).__name__)
        return PartState.DOWN
    return PartState.UP
