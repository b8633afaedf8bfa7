"""A bounded fault run (`tests/chaos.py`; `make chaos` runs the whole one): courses played
through the local stack's processes while the worker is SIGKILLed, then every history replays,
nothing is stuck or lost, and no bad message was accepted."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.chaos import Faults, fault_run

pytestmark = pytest.mark.devserver


async def test_worker_crashes_lose_nothing_and_every_history_replays() -> None:
    # Not pytest's tmp_path: another pytest run starting meanwhile makes its base folder
    # owner-only again, which locks PostgreSQL (its own system user when run as root) out.
    with tempfile.TemporaryDirectory(prefix="trdflow-chaos-") as work:
        counts = await fault_run(
            Path(work), courses=2, plan=Faults(worker_kills=2), seed=7, induction_weeks=1
        )

    assert counts.worker_kills == 2
    assert counts.bad_messages > 0
    assert {name: found for name, found in counts.failures().items() if found} == {}
