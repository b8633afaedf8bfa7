"""Workflows a test leaves running, ended when it finishes.

A module shares one time-skipping server, and time skips for every workflow on it: a course a
test left waiting would keep raising reminders and escalations through the next test's years.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.service import RPCError, RPCStatusCode

from cli.localstack import child_workflow_ids, run_histories


class StartedWorkflows(Interceptor):
    """Remembers every workflow started through the client (by tests, and by activities)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Recording(next, self.ids)

    async def end_all(self, client: Client) -> None:
        """Terminate the ones still running, then their children: the test server applies no
        parent close policy, and a child that outlives its parent can wedge it for good."""
        ids = sorted(self.ids)
        self.ids.clear()  # in place: the client's interceptor adds to this very set
        for workflow_id in ids:
            await _terminate(client, workflow_id)
        for workflow_id in ids:
            for child_id in child_workflow_ids(await run_histories(client, workflow_id)):
                await _terminate(client, child_id)


async def _terminate(client: Client, workflow_id: str) -> None:
    try:
        await client.get_workflow_handle(workflow_id).terminate("the test ended")
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:  # already closed
            raise


class _Recording(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, ids: set[str]) -> None:
        super().__init__(next)
        self._ids = ids

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        self._ids.add(input.id)
        return await super().start_workflow(input)
