"""Where stored histories live: `<persona>/<workflow id>--run-<nn>.json`, one file per run.

Runs are numbered from 1 along the continue-as-new chain, so re-recording the same courses
gives the same file names.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory

ROOT = Path(__file__).parent
RUN_SEPARATOR = "--run-"


def history_file(persona: str, workflow_id: str, run: int) -> Path:
    return ROOT / persona / f"{workflow_id}{RUN_SEPARATOR}{run:02d}.json"


def stored_files() -> list[Path]:
    return sorted(ROOT.glob(f"*/*{RUN_SEPARATOR}*.json"))


def load(path: Path) -> WorkflowHistory:
    workflow_id = path.stem.rsplit(RUN_SEPARATOR, 1)[0]
    return WorkflowHistory.from_json(workflow_id, path.read_text())
