"""A three-year course keeps every run of its history short.

On a time-skipping server of its own: about 80 sessions skip three years of time, and every
workflow on a shared server would be carried along (and can wedge it for the rest)."""

from __future__ import annotations

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from cli.localstack import new_course_id, play
from cli.room import ClinicApi
from cli.simulation import DEMO_PROTOCOL, PERSONAS, demo_course
from domain.contract import course_workflow_id
from domain.course import Phase
from store import protocols
from tests.courses import history_lengths

pytestmark = pytest.mark.usefixtures("worker")

RUNS_AT_PHASE_ENDS = 5
"""Assessment, induction, review, maintenance and follow-up each begin a run."""


# Each session waits for an idle workflow by reading its whole history (the test server has
# neither reverse history nor pending-task info): 60-90 s on an idle 2-core machine, several
# times that with both cores busy.
@pytest.mark.timeout(900)
async def test_three_years_of_maintenance_stay_under_2000_events_per_run(
    env: WorkflowEnvironment,
    clinic: ClinicApi,
    db_pool: asyncpg.Pool,
) -> None:
    three_years = DEMO_PROTOCOL.with_overrides(
        {"phases": {"maintenance_weeks": 156}}, version="three-years"
    )
    await protocols.publish(db_pool, "long-course-clinic", three_years, "tests")
    persona = PERSONAS["responder"]
    course = demo_course(
        new_course_id("long"), persona, time_scale=1.0, clinic_id="long-course-clinic"
    )

    _, result = await play(env, clinic, course, persona)

    assert result.phase is Phase.COMPLETED
    lengths = await history_lengths(env.client, course_workflow_id(course.course_id))
    assert len(lengths) > RUNS_AT_PHASE_ENDS, f"maintenance never split: {lengths}"
    assert max(lengths) < 2000, lengths
