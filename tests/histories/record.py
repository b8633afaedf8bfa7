"""Record the stored replay histories: `python -m tests.histories.record [FOLDER...]`
(`make histories` records them all).

Plays each persona's demo course on a fresh simulation stack and writes every run of the course
and of each of its dosing sessions; and one escalation of the demo clinic, paged, acknowledged
and resolved (`escalation/`). Read README.md before refreshing them.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client, WorkflowHistory

from cli.localstack import play, simulation
from cli.simulation import DEMO_CLINIC, PERSONAS, demo_course
from domain.contract import ESCALATION_TASK_QUEUE
from domain.escalation import (
    AckChannel,
    Acknowledge,
    EscalationInput,
    EscalationPolicies,
    Resolve,
    Severity,
    Trigger,
    escalation_workflow_id,
)
from tests.courses import course_histories
from tests.histories.files import ROOT, history_file
from tests.histories.keys import settings_with_test_key
from worker.logs import configure_logging
from workflows.escalation import Escalation

RECORDED = ("responder", "non_responder", "misser")
ESCALATION = "escalation"
FOLDERS = (*RECORDED, ESCALATION)
PAGED_POLLS = 200


async def record(folders: Sequence[str] = FOLDERS) -> dict[str, list[WorkflowHistory]]:
    recorded = {}
    with tempfile.TemporaryDirectory() as work:
        # The fixed key: the replay test decrypts the stored histories with it.
        settings = settings_with_test_key(Path(work) / "state")
        async with simulation(Path(work), settings) as (env, clinic):
            for name in RECORDED:
                if name not in folders:
                    continue
                # A fixed course id gives stable workflow ids, hence stable file names.
                course = demo_course(f"replay-{name.replace('_', '-')}", PERSONAS[name], 1.0)
                await play(env, clinic, course, PERSONAS[name])
                recorded[name] = await course_histories(env.client, course.course_id)
            if ESCALATION in folders:
                recorded[ESCALATION] = await escalation_history(env.client)
    return recorded


async def escalation_history(client: Client) -> list[WorkflowHistory]:
    """A critical escalation of the demo clinic (its staff are on call): raised, paged,
    acknowledged on the console, resolved."""
    trigger = Trigger(
        dedup_key="course-replay-escalation-session-1/spo2_low/1",
        course_id="replay-escalation",
        clinic_id=DEMO_CLINIC,
        session=1,
        phase="induction",
        severity=Severity.CRITICAL,
        condition="spo2_low",
        summary="SpO2 below the critical limit",
        raised_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    )
    handle = await client.start_workflow(
        Escalation.run,
        EscalationInput(trigger=trigger, policy=EscalationPolicies().critical),
        id=escalation_workflow_id(trigger.dedup_key),
        task_queue=ESCALATION_TASK_QUEUE,
    )
    for _ in range(PAGED_POLLS):
        if (await handle.query(Escalation.details)).pages:
            break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError(f"{handle.id} paged nobody")
    nurse = "nurse-demo"
    await handle.execute_update(
        Escalation.acknowledge, Acknowledge(by=nurse, via=AckChannel.CONSOLE)
    )
    await handle.execute_update(
        Escalation.resolve, Resolve(by=nurse, note="SpO2 back to 96% on oxygen")
    )
    await handle.result()
    return [await handle.fetch_history()]


def write(recorded: dict[str, list[WorkflowHistory]]) -> None:
    for persona, histories in recorded.items():
        # Old files go only once the new recording has succeeded.
        shutil.rmtree(ROOT / persona, ignore_errors=True)
        runs: dict[str, int] = {}
        for history in histories:
            runs[history.workflow_id] = runs.get(history.workflow_id, 0) + 1
            path = history_file(persona, history.workflow_id, runs[history.workflow_id])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(history.to_json() + "\n")
        print(f"{persona}: {len(histories)} runs in {ROOT / persona}")


def main() -> None:
    configure_logging("WARNING")  # keep the stack's start-up chatter out of the summary
    folders = sys.argv[1:] or FOLDERS
    unknown = set(folders) - set(FOLDERS)
    if unknown:
        raise SystemExit(f"no such folder {sorted(unknown)}: choose among {FOLDERS}")
    write(asyncio.run(record(folders)))


if __name__ == "__main__":
    main()
