"""Who is calling, checked before anything else: the bearer-token gate, permissions and scopes.

`BearerGate` signs callers of `/v1/courses`, `/v1/patients` and `/fhir` in from their token
before the route reads a byte of the body, so an unauthenticated request costs one indexed lookup
and no parsing. Routes then ask
for a permission (`require`) and check the course's clinic against the caller's scope
(`course_in_scope`): a course of another clinic is a 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from api.context import ApiContext, Ctx
from api.errors import Part, WorkflowNotFoundError, unavailable
from api.middleware import HttpMiddleware
from api.models import CourseId
from domain.access import Identity, Permission
from domain.contract import course_workflow_id
from store import patients, tokens
from store.db import UNREACHABLE, unreachable

log = structlog.get_logger(__name__)

GUARDED_PREFIXES = ("/v1/courses", "/v1/patients", "/fhir")
"""Callers' routes. Webhooks (`/v1/webhooks`) prove themselves by their provider's signature."""
DOCUMENTS = frozenset({"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"})

# Documents the scheme in OpenAPI; `BearerGate` does the checking.
bearer_scheme = HTTPBearer(
    auto_error=False, description="A token from `trdflow tokens issue` (trd_<id>_<secret>)."
)


class BearerGate(HttpMiddleware):
    """Pure ASGI: a request under `GUARDED_PREFIXES` without a live token is a 401 before its
    body is read. The identity goes into the request's state for `require`."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        context: ApiContext = scope["app"].state.context
        path = scope["path"]
        # In production the API's own documents are for signed-in callers too.
        documents = context.settings.production and path in DOCUMENTS
        if not (path.startswith(GUARDED_PREFIXES) or documents):
            await self.app(scope, receive, send)
            return
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        try:
            found = await tokens.identify(context.pool, token) if scheme == "Bearer" else None
        except UNREACHABLE as err:
            if not unreachable(err):
                raise
            await unavailable(Part.POSTGRES)(scope, receive, send)
            return
        if found is None:
            log.warning("api_sign_in_refused", path=scope["path"])
            answer = JSONResponse(
                {"detail": "a valid bearer token is required"},
                status_code=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await answer(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = found[1]
        await self.app(scope, receive, send)


def require(permission: Permission) -> Callable[..., Awaitable[Identity]]:
    """A dependency that answers with the caller, if one of its roles grants `permission`."""

    async def permitted(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Identity:
        identity: Identity = request.state.identity
        if not identity.may(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"none of this token's roles may {permission}"
            )
        return identity

    return permitted


StartsCourses = Annotated[Identity, Depends(require(Permission.START_COURSE))]
ChangesContacts = Annotated[Identity, Depends(require(Permission.CHANGE_CONTACT))]


@dataclass(frozen=True)
class OnCourse:
    """A caller allowed to act on one course of a clinic in its scope."""

    who: Identity
    course_id: str
    clinic_id: str


def on_course(permission: Permission) -> Callable[..., Awaitable[OnCourse]]:
    """A dependency for routes under a course: the caller holds `permission` and the course
    is one of its clinics'. Solved before the body is read, so another clinic's caller learns
    nothing of the course (404, as for no such course), valid body or not."""

    permitted = Depends(require(permission))  # a default: annotations here are only strings

    async def scoped(course_id: CourseId, ctx: Ctx, who: Identity = permitted) -> OnCourse:
        clinic_id = await patients.clinic_of(ctx.pool, course_id)
        if clinic_id is None or not who.covers(clinic_id):
            if clinic_id is not None:
                log.warning("out_of_scope_refused", course_id=course_id, actor=who.actor)
            raise WorkflowNotFoundError(course_workflow_id(course_id))
        return OnCourse(who, course_id, clinic_id)

    return scoped


ReadsCourse = Annotated[OnCourse, Depends(on_course(Permission.READ_COURSE))]
ReportsScore = Annotated[OnCourse, Depends(on_course(Permission.REPORT_SCORE))]
SubmitsVitals = Annotated[OnCourse, Depends(on_course(Permission.SUBMIT_VITALS))]
ActsInRoom = Annotated[OnCourse, Depends(on_course(Permission.ACT_IN_ROOM))]


def out_of_scope(who: Identity, clinic_id: str) -> HTTPException:
    log.warning("out_of_scope_refused", clinic_id=clinic_id, actor=who.actor)
    return HTTPException(status.HTTP_403_FORBIDDEN, f"this token may not act for {clinic_id}")
