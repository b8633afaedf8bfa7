"""Whole courses on the time-skipping server, with a simulated clinic playing its part."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from cli.localstack import new_course_id, play
from cli.room import ClinicApi
from cli.simulation import DEMO_PROTOCOL, PERSONAS, demo_course
from domain.contract import course_workflow_id
from domain.course import (
    Phase,
)
from domain.protocol import Frequency
from domain.scales import Scale
from workflows.course import TreatmentCourse

pytestmark = pytest.mark.usefixtures("worker")


def gaps_in_days(times: list[datetime]) -> list[int]:
    return [(later - earlier).days for earlier, later in pairwise(times)]


async def test_responder_spaces_out_to_every_2_weeks_and_completes_follow_up(
    env: WorkflowEnvironment,
    clinic: ClinicApi,
) -> None:
    course = demo_course(new_course_id("responder"), PERSONAS["responder"], time_scale=1.0)

    player, result = await play(env, clinic, course, PERSONAS["responder"])

    assert result.phase is Phase.COMPLETED
    assert [c.frequency for c in player.frequency_changes] == [Frequency.EVERY_2_WEEKS]
    status = await env.client.get_workflow_handle(course_workflow_id(course.course_id)).query(
        TreatmentCourse.status
    )
    maintenance = [s.scheduled_at for s in status.recent_sessions if s.phase == "maintenance"]
    assert gaps_in_days(maintenance)[-1] == 14
    assert status.check_ins_done == len(DEMO_PROTOCOL.phases.follow_up_check_in_weeks)
    assert status.latest_scores[Scale.PHQ9].total == PERSONAS["responder"].check_in_phq9[-1]


async def test_non_responder_is_stopped_at_the_induction_review(
    env: WorkflowEnvironment, clinic: ClinicApi
) -> None:
    course = demo_course(new_course_id("nonresp"), PERSONAS["non_responder"], time_scale=1.0)

    _, result = await play(env, clinic, course, PERSONAS["non_responder"])

    assert result.phase is Phase.DISCONTINUED
    assert result.sessions_done == DEMO_PROTOCOL.phases.induction_weeks * 2
    assert result.reason is not None and "induction review" in result.reason


async def test_missed_maintenance_sessions_with_worsening_scores_step_back_a_frequency(
    env: WorkflowEnvironment,
    clinic: ClinicApi,
) -> None:
    persona = PERSONAS["misser"]
    course = demo_course(new_course_id("misser"), persona, time_scale=1.0)

    player, result = await play(env, clinic, course, persona)

    changes = [(c.frequency, c.reason) for c in player.frequency_changes]
    assert changes[0][0] is Frequency.EVERY_2_WEEKS
    assert changes[1][0] is Frequency.WEEKLY
    assert "missed session" in changes[1][1]
    assert result.phase is Phase.COMPLETED


async def test_relapse_in_follow_up_is_flagged_to_a_clinician(
    env: WorkflowEnvironment, clinic: ClinicApi, db_pool: asyncpg.Pool
) -> None:
    persona = PERSONAS["misser"]  # PHQ-9 climbs back to 16 at the last check-in
    course = demo_course(new_course_id("relapse"), persona, time_scale=1.0)

    player, result = await play(env, clinic, course, persona)

    assert player.relapse_decisions == 1
    assert result.phase is Phase.COMPLETED
    kinds = await db_pool.fetch(
        "SELECT kind FROM notification_outbox WHERE course_id = $1", course.course_id
    )
    assert "relapse_flagged" in {row["kind"] for row in kinds}
