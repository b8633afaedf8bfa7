"""Running a command's work against Temporal: connect, query, send updates."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel
from rich.console import RenderableType
from rich.markup import escape
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from api.auth import OnCourse
from cli.caller import Target, as_caller, caller, sent_by_caller
from cli.errors import CliError
from cli.handles import course_handle
from cli.inputs import build
from cli.render import console, echo_json
from domain.access import Permission
from domain.contract import course_workflow_id
from domain.course import CourseStatus
from store.audit import Stage, record_attempt
from store.db import create_pool
from store.patients import clinic_of
from worker.client import ask, connect
from worker.settings import Settings, get_settings
from worker.tracing import configure_tracing
from workflows.course import TreatmentCourse

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")
Completion = Callable[[asyncpg.Pool, str], Awaitable[Mapping[str, Any]]]
"""More of a message, from the database, given the clinic it goes to."""

ANSWER_TIMEOUT = timedelta(seconds=30)
"""An update waits for a worker; without one, say so rather than hang."""


async def open_client(settings: Settings) -> Client:
    configure_tracing(settings, "trdflow-cli")
    try:
        return await connect(settings)
    except RuntimeError as err:
        raise CliError(
            f"cannot reach Temporal at {settings.temporal_address}: "
            "is `trdflow dev up` running, or TEMPORAL_ADDRESS set?"
        ) from err


def with_client(work: Callable[[Client], Awaitable[T]], settings: Settings | None = None) -> T:
    """Connect with the project's settings and converter, and run `work`."""

    async def main() -> T:
        return await work(await open_client(settings or get_settings()))

    return asyncio.run(main())


def with_pool(work: Callable[[asyncpg.Pool], Awaitable[T]], settings: Settings | None = None) -> T:
    """Open PostgreSQL (DATABASE_URL, else the local stack's) and run `work`."""
    url = (settings or get_settings()).database_url_or_local()

    async def main() -> T:
        try:
            pool = await create_pool(url)
        except (OSError, asyncpg.PostgresError) as err:
            raise CliError(
                "cannot reach PostgreSQL: is `trdflow dev up` running, or DATABASE_URL set?"
            ) from err
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


async def course_status(client: Client, course_id: str) -> CourseStatus:
    handle = course_handle(client, course_id)
    return await ask(handle, TreatmentCourse.status)


async def course_reader(pool: asyncpg.Pool, settings: Settings, course_id: str) -> OnCourse:
    """`TRDFLOW_TOKEN`'s holder, if they may read the course: one of their clinics' (else "not
    found", as for no such course)."""
    who = await caller(pool, settings, Permission.READ_COURSE)
    clinic_id = await clinic_of(pool, course_id)
    if clinic_id is None or not who.covers(clinic_id):
        raise CliError(f"{course_workflow_id(course_id)} not found")
    return OnCourse(who, course_id, clinic_id)


def ui_link(settings: Settings, workflow_id: str) -> str:
    return f"{settings.ui_origin}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}"


def deliver(
    target: Target,
    update: UpdateMethodMultiParam[[Any, M], R],
    model: type[M],
    file: Path | None,
    fields: Mapping[str, Any],
    *,
    done: str,
    show: Callable[[R], RenderableType] | None = None,
    as_json: bool = False,
    complete: Completion | None = None,
) -> None:
    """The path of every clinic event: the caller (`TRDFLOW_TOKEN`) checked for the permission
    and the clinic, the message built as theirs, its audit intent, the Update, its outcome.
    `complete` adds the fields only the database can give, once the clinic is known (it may
    refuse the message instead)."""
    settings = get_settings()
    # Bad input is refused before anything is looked up: the sender, unknown yet, aside.
    build(model, file, fields if file else as_caller(model, fields, None))

    async def send(pool: asyncpg.Pool) -> R:
        who = await caller(pool, settings, target.permission)
        found = await target.clinic(pool)
        if found is None or not who.covers(found[0]):
            raise CliError(f"{target.workflow_id} not found")  # as for no such workflow
        clinic_id, course_id = found
        more = await complete(pool, clinic_id) if complete else {}
        message = build(model, file, fields if file else as_caller(model, {**fields, **more}, who))
        sent_by_caller(message, who)
        key, action = uuid.uuid4().hex, f"cli.{getattr(update, '__name__', 'update')}"

        async def audit(stage: Stage) -> None:
            await record_attempt(
                pool,
                key,
                1,
                stage,
                who.actor,
                action,
                course_id,
                {"workflow_id": target.workflow_id},
                actor_kind=who.kind,
                clinic_id=clinic_id,
            )

        await audit(Stage.INTENT)
        client = await open_client(settings)
        handle = client.get_workflow_handle(target.workflow_id)
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT.total_seconds()):
                result = await handle.execute_update(update, message, id=f"cli-{key}")
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
            # Its outcome unknown, the intent stays alone in the audit log.
            raise CliError(
                f"{target.workflow_id} did not answer in {ANSWER_TIMEOUT.seconds} s: is a "
                "worker running? The update may still be applied when one picks it up."
            ) from err
        except (WorkflowUpdateFailedError, RPCError):
            await audit(Stage.REFUSED)
            raise
        await audit(Stage.DONE)
        return result

    result = with_pool(send, settings)
    if as_json and isinstance(result, BaseModel):
        echo_json(result)
        return
    console.print(f"[green]✓[/green] {escape(done)} ({target.workflow_id})")
    if show is not None:
        console.print(show(result))
