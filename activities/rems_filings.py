"""Starting a session's REMS filing: a workflow of its own, so a portal outage never holds up
the course."""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.contract import TASK_QUEUE, rems_filing_workflow_id
from domain.records import RemsFilingInput
from workflows.rems import RemsFiling

log = structlog.get_logger(__name__)


class RemsFilings:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="start_rems_filing")
    async def start_rems_filing(self, filing: RemsFilingInput) -> None:
        """Start the session's `RemsFiling` workflow, once: a retry finds it started."""
        workflow_id = rems_filing_workflow_id(filing.course_id, filing.session)
        try:
            await self._client.start_workflow(
                RemsFiling.run,
                filing,
                id=workflow_id,
                task_queue=TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"REMS form, session {filing.session} (course {filing.course_id})",
            )
        except WorkflowAlreadyStartedError:
            log.info("rems_filing_started_already", filing=workflow_id)
            return
        log.info("rems_filing_started", filing=workflow_id)
