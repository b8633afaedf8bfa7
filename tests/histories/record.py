"""Record the stored replay histories: `python -m tests.histories.record` (`make histories`).

Plays each persona's demo course on a fresh simulation stack and writes every run of the course
and of each of its dosing sessions. Read README.md before refreshing them.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from temporalio.client import WorkflowHistory

from cli.localstack import play, simulation
from cli.simulation import PERSONAS, demo_course
from tests.courses import course_histories
from tests.histories.files import ROOT, history_file
from tests.histories.keys import settings_with_test_key
from worker.logs import configure_logging

RECORDED = ("responder", "non_responder", "misser")


async def record() -> dict[str, list[WorkflowHistory]]:
    recorded = {}
    with tempfile.TemporaryDirectory() as work:
        # The fixed key: the replay test decrypts the stored histories with it.
        settings = settings_with_test_key(Path(work) / "state")
        async with simulation(Path(work), settings) as (env, clinic):
            for name in RECORDED:
                # A fixed course id gives stable workflow ids, hence stable file names.
                course = demo_course(f"replay-{name.replace('_', '-')}", PERSONAS[name], 1.0)
                await play(env, clinic, course, PERSONAS[name])
                recorded[name] = await course_histories(env.client, course.course_id)
    return recorded


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
    write(asyncio.run(record()))


if __name__ == "__main__":
    main()
