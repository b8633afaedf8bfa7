"""A benchmark run's record: the machine, the commit, and each benchmark's figures with their
baselines, as one JSON file per run under `bench/results/`; its plots go beside the latest run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
LATEST = RESULTS / "latest"
"""The latest run's plots, which the README shows."""


def machine() -> dict[str, Any]:
    """What the figures were measured on: these machines are shared, so the load too."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": [round(load, 2) for load in os.getloadavg()],
    }


def commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, cwd=RESULTS.parent
        ).stdout.strip()

    return {"sha": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def save(benchmarks: dict[str, Any], started_at: datetime) -> Path:
    """Write the run's JSON file and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    source = commit()
    record = {
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "commit": source,
        "benchmarks": benchmarks,
    }
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-{(source['sha'] or 'unknown')[:7]}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
