"""The on-call console: a web page served with the API, where staff see the open escalations
of their clinics update live, and acknowledge and resolve them."""

from __future__ import annotations

from fastapi import FastAPI

from api.console.access import ConsoleContext
from api.console.live import LiveFeed
from api.console.routes import router
from api.console.sso import Provider, SingleSignOn
from api.console.throttle import SignInThrottle
from api.context import ApiContext


def install(app: FastAPI, ctx: ApiContext) -> None:
    provider = Provider.configured(ctx.settings)
    app.state.console = ConsoleContext(
        feed=LiveFeed(ctx.pool),
        throttle=SignInThrottle(),
        sso=SingleSignOn(provider, ctx.pool) if provider else None,
    )
    app.include_router(router)
