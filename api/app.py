"""The FastAPI application, and the process that serves it (`python -m api.app`)."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog
import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from api import console, health, metrics
from api.auth import BearerGate
from api.context import ApiContext
from api.errors import install_error_handlers
from api.headers import SecurityHeaders
from api.limits import RequestLimits
from api.requests import FASTAPI_TELEMETRY, RequestContext
from api.routes import courses, fhir, pager, patients, sessions, sms
from store.db import create_pool
from worker.client import connect
from worker.logs import configure_logging
from worker.production import check_production
from worker.settings import Settings, get_settings
from worker.tracing import configure_tracing

log = structlog.get_logger(__name__)

SHUTDOWN_GRACE_S = 5

DESCRIPTION = """
Esketamine treatment courses as durable Temporal workflows: the HTTP face of the contract.

* **Auth**: `Authorization: Bearer <token>`, a token from `trdflow tokens issue`. A token signs
  in an actor, a person (clinic staff, operators) or a system (EHR, scheduler, device gateway),
  with roles that grant what it may do and the clinics it may touch. It is checked before the
  request's body is read. Every read of a course and every change, by anyone, is audited.
* **Errors**: 401 no or bad token, 403 no role of the token may do this (or, starting a course,
  another clinic's), 404 unknown course or session, or one of a clinic outside the token's
  scope, 409 refused by
  the workflow in its current state (the reason is in `detail`), 422 invalid input (nothing is
  written; the answer names fields, never their values), 503 PostgreSQL or Temporal is
  unavailable (JSON, `detail` names the part; `Retry-After` gives the seconds to wait).
* **Retries**: an action sent with an `Idempotency-Key` header is done once however often it
  is sent, and a retry of one that took effect answers with its first result (not a 409). A
  staff action is audited before and after; without the header, the same request again retries
  an attempt whose outcome was not recorded, and is a new action once it was.
* **Readiness**: `GET /readyz` checks PostgreSQL and Temporal and names the part that is down.
* Sessions are numbered from 1 within their course; their workflows are
  `course-<course_id>-session-<n>`.
"""


def create_app(settings: Settings, client: Client, pool: asyncpg.Pool) -> FastAPI:
    """The API over an existing Temporal client and Postgres pool (the caller closes them)."""
    app = FastAPI(
        title="trdflow", version="1", description=DESCRIPTION, telemetry=FASTAPI_TELEMETRY
    )
    app.state.context = context = ApiContext(settings=settings, client=client, pool=pool)
    install_error_handlers(app)
    app.add_middleware(RequestLimits)
    app.add_middleware(BearerGate)
    app.add_middleware(SecurityHeaders)  # on the gate's own answers too
    app.add_middleware(RequestContext)  # the outermost: every answer has its id and span
    for router in (
        health.router,
        metrics.router,
        courses.router,
        sessions.router,
        patients.router,
        fhir.router,
        sms.router,
        pager.router,
    ):
        app.include_router(router)
    console.install(app, context)
    return app


async def serve(settings: Settings) -> None:
    check_production(settings)
    if settings.database_url is None:
        raise SystemExit("DATABASE_URL is not set (`make run` sets it for the local stack)")
    client = await connect(settings)
    pool = await create_pool(settings.database_url, settings.database_role)
    try:
        app = create_app(settings, client, pool)
        config = uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            # Open consoles hold event streams that never end by themselves: cut them.
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        log.info("api_started", host=settings.api_host, port=settings.api_port)
        await uvicorn.Server(config).serve()
    finally:
        await pool.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    configure_tracing(settings, "trdflow-api")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
