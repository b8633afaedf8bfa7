"""Typed handles to the project's workflows, for every client (CLI, simulation, tests, benches).

The return types give mypy the context to bind a handle's workflow and result types: left to infer
them from the run method alone, it binds them to `Never` when it meets the workflow module late in
an import cycle (a cold cache, as in CI).
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle

from domain.contract import course_workflow_id
from domain.course import CourseResult
from domain.escalation import EscalationState
from domain.records import RemsSubmission
from domain.session import SessionSummary
from workflows.course import TreatmentCourse
from workflows.escalation import Escalation
from workflows.rems import RemsFiling
from workflows.session import DosingSession


def course_handle(client: Client, course_id: str) -> WorkflowHandle[TreatmentCourse, CourseResult]:
    return client.get_workflow_handle_for(TreatmentCourse.run, course_workflow_id(course_id))


def session_handle(
    client: Client, workflow_id: str
) -> WorkflowHandle[DosingSession, SessionSummary]:
    return client.get_workflow_handle_for(DosingSession.run, workflow_id)


def rems_filing_handle(
    client: Client, workflow_id: str
) -> WorkflowHandle[RemsFiling, RemsSubmission]:
    return client.get_workflow_handle_for(RemsFiling.run, workflow_id)


def escalation_handle(
    client: Client, workflow_id: str
) -> WorkflowHandle[Escalation, EscalationState]:
    return client.get_workflow_handle_for(Escalation.run, workflow_id)
