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
from domain.contract import course_workflow_id
from domain.course import CourseStart
from tests.sessions import discontinue
from workflows.course import TreatmentCourse

COURSE = "TreatmentCourse"


class StartedCourses(Interceptor):
    """Remembers every course started through the client."""

    def __init__(self) -> None:
        self.course_ids: set[str] = set()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Recording(next, self.course_ids)

    async def end_all(self, client: Client) -> None:
        course_ids = sorted(self.course_ids)
        self.course_ids.clear()  # in place: the client's interceptor adds to this very set
        for course_id in course_ids:
            workflow_id = course_workflow_id(course_id)
            # Not `discontinue`'s query first: the test server can time a query to a closed
            # workflow out.
            if await execution_status(client, workflow_id) is WorkflowExecutionStatus.RUNNING:
                await discontinue(client, course_id)
                await client.get_workflow_handle_for(TreatmentCourse.run, workflow_id).result()


class _Recording(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, course_ids: set[str]) -> None:
        super().__init__(next)
        self._course_ids = course_ids

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        if input.workflow == COURSE:
            start: CourseStart = input.args[0]
            self._course_ids.add(start.course_id)
        return await super().start_workflow(input)
