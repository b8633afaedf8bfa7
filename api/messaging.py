"""Talking to the course and session workflows, with Temporal's failures mapped to answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.types import MethodSyncOrAsyncNoParam, MethodSyncOrAsyncSingleParam
from temporalio.workflow import UpdateMethodMultiParam

from api.errors import WorkflowNotFoundError, WorkflowRejectedError, WorkflowUnansweredError
from worker.client import ask
from worker.runner import AHEAD_OF_TASK

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

ANSWER_TIMEOUT = timedelta(seconds=30)
"""An Update waits for a worker; without one, say so rather than hold the caller forever."""
RUN_CHANGES_FOLLOWED = 3
"""An Update that finds its run just closed by continue-as-new is sent to the next one."""
RUN_CHANGE_PAUSE_S = 0.2


async def send_update(
    client: Client,
    workflow_id: str,
    update: UpdateMethodMultiParam[[Any, M], R],
    message: M,
    *,
    update_id: str | None = None,
) -> R:
    """Send an Update and wait for its answer; a validator's refusal becomes a 409.

    An Update sent again with the `update_id` of one the workflow accepted is not applied again:
    Temporal answers with the first one's result, even once the workflow has ended.
    """
    handle = client.get_workflow_handle(workflow_id)
    for attempt in range(1, RUN_CHANGES_FOLLOWED + 1):
        try:
            with _mapped(workflow_id):
                async with asyncio.timeout(ANSWER_TIMEOUT.total_seconds()):
                    return await handle.execute_update(update, message, id=update_id)
        except WorkflowNotFoundError:
            await require_running(client, workflow_id)  # 404 or 409 when it truly is
            # Still running: the run asked closed under the Update (continue-as-new) without
            # taking it, or the server is still loading it after a restart. Ask again.
            await asyncio.sleep(RUN_CHANGE_PAUSE_S * attempt)
    # Not applied (never accepted by a run), so a refusal the caller may send again.
    raise WorkflowRejectedError(workflow_id, f"{workflow_id} is between runs: send it again")


async def send_signal(
    client: Client, workflow_id: str, signal: MethodSyncOrAsyncSingleParam[Any, M, None], message: M
) -> None:
    async with _talking_to(client, workflow_id):
        await client.get_workflow_handle(workflow_id).signal(signal, message)


async def query(client: Client, workflow_id: str, method: MethodSyncOrAsyncNoParam[Any, R]) -> R:
    async with _talking_to(client, workflow_id):
        return await ask(client.get_workflow_handle(workflow_id), method)


async def require_running(client: Client, workflow_id: str) -> None:
    """404 for an unknown workflow, 409 for one that has ended."""
    # The raw describe: only the status is needed, and the SDK's description would also decode
    # every search attribute (the time-skipping test server's datetimes fail to, at random).
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    with _mapped(workflow_id):
        raw = await client.workflow_service.describe_workflow_execution(request)
    status = WorkflowExecutionStatus(raw.workflow_execution_info.status)
    if status is not WorkflowExecutionStatus.RUNNING:
        raise WorkflowRejectedError(workflow_id, f"{workflow_id} is over ({status.name.lower()})")


@asynccontextmanager
async def _talking_to(client: Client, workflow_id: str) -> AsyncIterator[None]:
    try:
        with _mapped(workflow_id):
            yield
    except WorkflowNotFoundError:
        # Temporal answers "not found" for a workflow that has ended, too: tell them apart.
        await require_running(client, workflow_id)
        raise


@contextmanager
def _mapped(workflow_id: str) -> Iterator[None]:
    try:
        yield
    except WorkflowUpdateFailedError as err:
        # A validator's ValueError reaches the client as an ApplicationError with its message.
        cause = err.cause
        reason = cause.message if isinstance(cause, FailureError) else "the update failed"
        raise WorkflowRejectedError(workflow_id, reason) from err
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFoundError(workflow_id) from err
        raise
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
        raise WorkflowUnansweredError(workflow_id) from err
    except WorkflowQueryFailedError as err:
        # Refused each time `ask` asked: the run's next workflow task has not started yet.
        if err.message == AHEAD_OF_TASK:
            raise WorkflowUnansweredError(workflow_id) from err
        raise
