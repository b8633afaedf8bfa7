"""A workflow's history as the Temporal UI shows it: each event that carries a summary, with the
summary decoded as the UI decodes it (the codec, through the codec server).

`python -m tests.ui_history` plays a course of the "desaturates" persona on a fresh simulation
stack (time-skipping server, embedded PostgreSQL) and prints the summaries of the course, of
its session that paged, and of that page's escalation.

Free of pytest: the UI summaries test shares it.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHistory

from cli.devtokens import NURSE
from cli.handles import escalation_handle
from cli.localstack import play, quiet, run_histories, simulation
from cli.simulation import PERSONAS, demo_course
from domain.conditions import Condition, escalation_key
from domain.contract import course_workflow_id, session_workflow_id
from domain.escalation import AckChannel, Acknowledge, Resolve, escalation_workflow_id
from tests.histories.keys import settings_with_test_key
from tests.sessions import eventually
from worker.logs import configure_logging
from workflows.escalation import Escalation

PERSONA = "desaturates"
EVENT_PREFIX = "EVENT_TYPE_"


@dataclass(frozen=True)
class Summarised:
    event_id: int
    event_type: str
    summary: str

    def __str__(self) -> str:
        return f"{self.event_id:>4}  {self.event_type:<36} {self.summary}"


async def summaries(client: Client, history: WorkflowHistory) -> list[Summarised]:
    """Every event of `history` with a summary, decoded."""
    events = [event for event in history.events if event.user_metadata.HasField("summary")]
    decoded = await client.data_converter.decode(
        [event.user_metadata.summary for event in events], [str] * len(events)
    )
    return [
        Summarised(
            event.event_id, EventType.Name(event.event_type).removeprefix(EVENT_PREFIX), text
        )
        for event, text in zip(events, decoded, strict=True)
    ]


async def current_details(client: Client, workflow_id: str) -> str:
    """The workflow's current details, by the query the UI sends for them."""
    metadata: WorkflowMetadata = await client.get_workflow_handle(workflow_id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return metadata.current_details


def first_escalation_id(course_id: str, session: int, condition: Condition) -> str:
    key = escalation_key(session_workflow_id(course_id, session), condition, 1)
    return escalation_workflow_id(key)


@dataclass(frozen=True)
class NurseByUpdate:
    """The on-call nurse answering a page with the escalation's Updates (the CLI's way): she
    acknowledges once the page is out, and resolves."""

    client: Client
    by: str = NURSE

    async def acknowledge(self, course_id: str, session: int, condition: str) -> str:
        escalation_id = first_escalation_id(course_id, session, Condition(condition))
        handle = escalation_handle(self.client, escalation_id)

        async def paged() -> bool | None:
            await quiet(self.client, escalation_id)
            return True if (await handle.query(Escalation.details)).pages else None

        await eventually(paged)
        await quiet(self.client, escalation_id)
        await handle.execute_update(
            Escalation.acknowledge, Acknowledge(by=self.by, via=AckChannel.CONSOLE)
        )
        return escalation_id

    async def resolve(self, escalation_id: str, note: str) -> None:
        await quiet(self.client, escalation_id)
        handle = escalation_handle(self.client, escalation_id)
        await handle.execute_update(Escalation.resolve, Resolve(by=self.by, note=note))


async def main() -> None:
    configure_logging("WARNING")
    persona = PERSONAS[PERSONA]
    assert persona.desaturates_at_session is not None
    course = demo_course("ui-history", persona, time_scale=1.0)
    with tempfile.TemporaryDirectory() as work:
        settings = settings_with_test_key(Path(work) / "state")
        async with simulation(Path(work), settings) as (env, clinic):
            await play(env, clinic, course, persona, on_call=NurseByUpdate(env.client))
            session = persona.desaturates_at_session
            for workflow_id in (
                course_workflow_id(course.course_id),
                session_workflow_id(course.course_id, session),
                first_escalation_id(course.course_id, session, Condition.SPO2_LOW),
            ):
                print(f"--- {workflow_id}")
                for history in await run_histories(env.client, workflow_id):
                    for line in await summaries(env.client, history):
                        print(line)


if __name__ == "__main__":
    asyncio.run(main())
