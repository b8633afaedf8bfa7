"""Temporal's remote codec protocol over HTTP, so the Web UI can show decrypted payloads.

The UI posts `{"payloads": [...]}` (protobuf JSON of `Payloads`) to /encode or /decode from
the operator's browser, hence the CORS rules for the UI's origin. It decrypts PHI, so:

* every request is signed in: the UI forwards the operator's bearer token (its codec setting
  "pass access token"); the token must grant decoding payloads and cover every clinic, since a
  namespace holds every clinic's courses. The local stack's UI, which has no token to send, is
  served from loopback only when `TRDFLOW_CODEC_LOCAL_UI` is set (never in production);
* every encode and decode is audited (who, how many payloads, which namespace);
* only the configured hosts are answered (a DNS-rebinding page sends its own `Host`);
* bodies are capped, and answers never name key ids or echo payloads;
* in production, an unencrypted payload is refused rather than passed through.

`GET /metrics` (Prometheus) answers any host and needs no token: it counts payloads, and holds
none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import structlog
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.requests import FASTAPI_TELEMETRY
from domain.access import EVERY_CLINIC, Identity, Kind, Permission, Role
from store import tokens
from store.audit import record_audit
from store.db import create_pool
from worker import metrics
from worker.codec import CodecError, EncryptionCodec, load_keyring
from worker.logs import configure_logging
from worker.production import check_production
from worker.settings import Settings, get_settings

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
"""A page of history is far smaller; more is a mistake or an attack."""

LOOPBACK = frozenset({"127.0.0.1", "::1"})
LOCAL_UI = Identity(
    actor="local-ui",
    kind=Kind.PERSON,
    roles=frozenset({Role.OPERATOR}),
    clinics=frozenset({EVERY_CLINIC}),
)
"""Whoever uses the local stack's Temporal UI (`TRDFLOW_CODEC_LOCAL_UI`)."""


def create_app(settings: Settings, pool: asyncpg.Pool) -> FastAPI:
    codec = EncryptionCodec(load_keyring(settings), allow_plaintext=not settings.production)
    app = FastAPI(
        title="trdflow codec server",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=FASTAPI_TELEMETRY,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.ui_origin],
        allow_methods=["POST", "GET"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
    )
    app.add_middleware(TrustedHostsBesideMetrics, allowed_hosts=settings.codec_allowed_hosts)

    async def operator(request: Request) -> Identity:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme == "Bearer":
            found = await tokens.identify(pool, token)
            if found is None:
                raise _refused(request, status.HTTP_401_UNAUTHORIZED, "not a valid token")
            who = found[1]
            if not who.may(Permission.DECODE_PAYLOADS) or EVERY_CLINIC not in who.clinics:
                raise _refused(
                    request,
                    status.HTTP_403_FORBIDDEN,
                    "this token may not decode payloads of every clinic",
                    who.actor,
                )
            return who
        client = request.client.host if request.client else ""
        if settings.codec_local_ui and not settings.production and client in LOOPBACK:
            return LOCAL_UI
        raise _refused(request, status.HTTP_401_UNAUTHORIZED, "a bearer token is required")

    signed_in = Depends(operator)  # a default: annotations here are only strings

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(metrics.METRICS_PATH)
    async def scrape() -> Response:
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    @app.post("/encode")
    async def encode(request: Request, who: Identity = signed_in) -> Response:
        return await _transform(request, who, pool, "codec.encoded", codec.encode)

    @app.post("/decode")
    async def decode(request: Request, who: Identity = signed_in) -> Response:
        return await _transform(request, who, pool, "codec.decoded", codec.decode)

    return app


class TrustedHostsBesideMetrics(TrustedHostMiddleware):
    """The Host check guards payloads from a DNS-rebinding page; Prometheus scrapes /metrics
    by the pod's address, which no allowed host names."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == metrics.METRICS_PATH:
            await self.app(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _refused(request: Request, code: int, detail: str, actor: str = "") -> HTTPException:
    log.warning("codec_request_refused", path=request.url.path, actor=actor, status=code)
    headers = {"WWW-Authenticate": "Bearer"} if code == status.HTTP_401_UNAUTHORIZED else None
    return HTTPException(code, detail, headers=headers)


async def _transform(
    request: Request, who: Identity, pool: asyncpg.Pool, action: str, transform: Transform
) -> Response:
    payloads = Payloads()
    try:
        json_format.Parse(await _capped_body(request), payloads)
        result = Payloads(payloads=await transform(payloads.payloads))
    except json_format.ParseError:
        return _error(400, "body is not a Payloads JSON object")
    except CodecError as err:
        # The reason goes to the log only: it may name key ids. Never the payload (PHI).
        log.warning("codec_request_failed", path=request.url.path, error=str(err))
        return _error(422, "a payload could not be processed")
    namespace = request.headers.get("x-namespace")
    metrics.CODEC_PAYLOADS.labels(action).inc(len(payloads.payloads))
    await record_audit(
        pool,
        actor=who.actor,
        action=action,
        course_id=None,
        details={"payloads": len(payloads.payloads), "namespace": namespace},
        actor_kind=who.kind,
    )
    body = json_format.MessageToJson(result, always_print_fields_with_no_presence=True)
    return Response(body, media_type="application/json")


async def _capped_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
    return bytes(body)


def _error(status_code: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status_code)


async def serve(settings: Settings) -> None:
    pool = await create_pool(settings.database_url_or_local(), settings.database_role)
    try:
        config = uvicorn.Config(
            create_app(settings, pool),
            host=settings.codec_server_host,
            port=settings.codec_server_port,
            log_config=None,
        )
        log.info("codec_server_started", host=settings.codec_server_host)
        await uvicorn.Server(config).serve()
    finally:
        await pool.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    check_production(settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
