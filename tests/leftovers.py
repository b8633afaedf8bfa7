"""Courses a test leaves running, discontinued when it finishes.

A module shares one time-skipping server, and time skips for every workflow on it: a course a
test left waiting would keep raising reminders and escalations through the next test's years.
Each is ended the way a clinician ends one (its sessions then end themselves), not terminated:
a workflow terminated while an activity of it runs keeps the test server from skipping time
for good, and the test server applies no parent close policy to the sessions.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowExecutionStatus,
    WorkflowHandle,
)

from api.messaging import execution_status
from tests.sessions import discontinue_workflow

COURSE = "TreatmentCourse"


class StartedCourses(Interceptor):
    """Remembers every course started through the client."""

    def __init__(self) -> None:
        self.workflow_ids: set[str] = set()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Recording(next, self.workflow_ids)

    async def end_all(self, client: Client) -> None:
        workflow_ids = sorted(self.workflow_ids)
        self.workflow_ids.clear()  # in place: the client's interceptor adds to this very set
        for workflow_id in workflow_ids:
            # Not the status query first: the test server can time a query to a closed
            # workflow out.
            if await execution_status(client, workflow_id) is WorkflowExecutionStatus.RUNNING:
                await discontinue_workflow(client, workflow_id)
                await client.get_workflow_handle(workflow_id).result()


class _Recording(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, workflow_ids: set[str]) -> None:
        super().__init__(next)
        self._workflow_ids = workflow_ids

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        if input.workflow == COURSE:
            self._workflow_ids.add(input.id)
        return await super().start_workflow(input)
