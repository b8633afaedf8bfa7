"""Temporal's remote codec protocol over HTTP, so the Web UI can show decrypted payloads.

The UI posts `{"payloads": [...]}` (protobuf JSON of `Payloads`) to /encode or /decode from
the operator's browser, hence the CORS rules for the UI's origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from worker.codec import CodecError, EncryptionCodec, load_keyring
from worker.logs import configure_logging
from worker.settings import Settings, get_settings

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]

log = structlog.get_logger(__name__)


def create_app(settings: Settings) -> FastAPI:
    codec = EncryptionCodec(load_keyring(settings))
    app = FastAPI(title="trdflow codec server", docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.ui_origin],
        allow_methods=["POST", "GET"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
    )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await _transform(request, codec.encode)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await _transform(request, codec.decode)

    return app


async def _transform(request: Request, transform: Transform) -> Response:
    payloads = Payloads()
    try:
        json_format.Parse(await request.body(), payloads)
        result = Payloads(payloads=await transform(payloads.payloads))
    except json_format.ParseError as err:
        return _error(400, f"body is not a Payloads JSON object: {err}")
    except CodecError as err:
        # Only the error text: never the payload, which may carry PHI.
        log.warning("codec_request_failed", path=request.url.path, error=str(err))
        return _error(422, str(err))
    body = json_format.MessageToJson(result, always_print_fields_with_no_presence=True)
    return Response(body, media_type="application/json")


def _error(status: int, detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=status)


def main() -> None:
    """Local-stack entry point, on loopback; a deployment serves `create_app` behind its auth."""
    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    uvicorn.run(app, host="127.0.0.1", port=settings.codec_server_port, log_config=None)


if __name__ == "__main__":
    main()
