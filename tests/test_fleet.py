"""Three worker processes on one dev server share the work, and one SIGKILLed for good halfway
through loses nothing: the fault run (`tests/chaos.py`) with a fleet, 30-odd dosing sessions,
every one taken up by the workers in turn, every history replayed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.chaos import Faults, fault_run

pytestmark = pytest.mark.devserver

WORKERS = 3
COURSES = 8
INDUCTION_WEEKS = 2
"""Two sessions a week: 8 courses play 32 sessions."""


async def test_three_workers_share_the_sessions_and_one_lost_halfway_loses_nothing() -> None:
    # Not pytest's tmp_path: see tests/test_chaos.py.
    with tempfile.TemporaryDirectory(prefix="trdflow-fleet-") as work:
        counts = await fault_run(
            Path(work),
            courses=COURSES,
            plan=Faults(worker_kills=0, workers_lost=1, bad_messages=16),
            seed=13,
            induction_weeks=INDUCTION_WEEKS,
            workers=WORKERS,
        )

    assert counts.sessions >= 30
    assert counts.workers == WORKERS and counts.workers_lost == 1
    started = counts.worker_identities
    assert len(started) == WORKERS  # none restarted
    # Every worker, the one lost halfway included, took tasks of some session.
    assert set(started) <= counts.session_workers
    assert {name: found for name, found in counts.failures().items() if found} == {}
