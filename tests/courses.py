"""Reading back whole courses played on the time-skipping server: every run of the course and of
its sessions.

Free of pytest: the flow, PHI and replay tests and the history recorder share it.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHistory

from cli.localstack import child_workflow_ids, run_histories
from domain.contract import course_workflow_id


async def history_lengths(client: Client, workflow_id: str) -> list[int]:
    """Events per run, following the continue-as-new chain from the first run."""
    return [len(history.events) for history in await run_histories(client, workflow_id)]


async def course_histories(client: Client, course_id: str) -> list[WorkflowHistory]:
    """Every run of a course, then every run of each of its session children, in order."""
    course = await run_histories(client, course_workflow_id(course_id))
    histories = list(course)
    for session_id in child_workflow_ids(course):
        histories += await run_histories(client, session_id)
    return histories
