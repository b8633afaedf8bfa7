"""The on-call console: a web page served with the API, where staff see the open escalations
update live, and acknowledge and resolve them."""

from __future__ import annotations

from fastapi import FastAPI

from api.console.access import ConsoleContext
from api.console.live import LiveFeed
from api.console.routes import router
from api.console.sessions import SessionSigner, load_console_secret
from api.context import ApiContext


def install(app: FastAPI, ctx: ApiContext) -> None:
    app.state.console = ConsoleContext(
        signer=SessionSigner(load_console_secret(ctx.settings)), feed=LiveFeed(ctx.pool)
    )
    app.include_router(router)
