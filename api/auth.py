"""Bearer-token sign-in and role checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import Ctx
from worker.settings import ApiIdentity, ApiRole

# auto_error off: a missing token is a 401 of ours, with the WWW-Authenticate header.
_bearer = HTTPBearer(
    auto_error=False,
    description="A token from TRDFLOW_API_TOKENS (or the local stack's state/api-tokens.json).",
)


def require(*roles: ApiRole) -> Callable[..., Awaitable[ApiIdentity]]:
    """A dependency that answers with the signed-in identity, if it holds one of `roles`."""

    async def signed_in(
        ctx: Ctx,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiIdentity:
        identity = ctx.tokens.identify(credentials.credentials) if credentials else None
        if identity is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if identity.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the {' or '.join(roles)} role"
            )
        return identity

    return signed_in


Service = Annotated[ApiIdentity, Depends(require("service"))]
Staff = Annotated[ApiIdentity, Depends(require("staff"))]
ServiceOrStaff = Annotated[ApiIdentity, Depends(require("service", "staff"))]
