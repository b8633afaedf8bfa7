"""The demo's players against a live local stack (`cli.localstack`: the Temporal dev server, an
embedded PostgreSQL, the worker and the HTTP API over real HTTP), as `make demo` plays them
against `make run`: every course reaches its end, and the only escalation raised is the one the
desaturating patient's critical reading caused, paged and then acknowledged and resolved on the
on-call console.

On the demo's clock a session still takes its in-room minutes (monitoring lasts seconds), so the
test plays the two personas whose courses end at the induction review, with an induction of one
week: the critical reading comes at session 2. The responder's and the misser's whole courses
are played by the same players on the time-skipping server (test_course_flows.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from cli.demo import DAY_IN_A_SECOND, demo_courses, play_demo
from cli.devtokens import NURSE
from cli.localstack import live_stack
from cli.oncall import seed_demo
from cli.simulation import DEMO_CLINIC, DEMO_PROTOCOL
from domain.course import Phase
from store.escalations import PAGE_KIND
from tests.chaos import publish_induction_weeks

pytestmark = pytest.mark.devserver

PLAYED = ("non_responder", "desaturates")
STOPPED_AT_REVIEW = "stopped at induction review: no response"
INDUCTION_WEEKS = 1


async def test_demo_players_end_every_course_and_only_the_critical_reading_pages() -> None:
    # Not pytest's tmp_path: another pytest run starting meanwhile makes its base folder
    # owner-only again, which locks PostgreSQL (its own system user when run as root) out.
    with tempfile.TemporaryDirectory(prefix="trdflow-demo-") as work:
        async with live_stack(Path(work), allow_simulation=True) as stack:
            await seed_demo(stack.pool, DEMO_CLINIC, DEMO_PROTOCOL)  # as `make run` does
            await publish_induction_weeks(stack.pool, INDUCTION_WEEKS)
            courses = [
                course
                for course in demo_courses("t", DAY_IN_A_SECOND)  # as `make demo` plays them
                if course.persona in PLAYED
            ]

            outcomes = {o.persona: o for o in await play_demo(stack.settings, courses)}

            escalations = await stack.pool.fetch(
                "SELECT course_id, session, severity, condition, status, acknowledged_by,"
                " resolved_by, pages FROM escalations ORDER BY raised_at"
            )
            pages = await stack.pool.fetch(
                "SELECT course_id FROM notification_outbox WHERE kind = $1", PAGE_KIND
            )

    assert {persona: o.error for persona, o in outcomes.items()} == dict.fromkeys(PLAYED)
    for persona in PLAYED:
        status = outcomes[persona].status
        assert status is not None, persona
        assert (status.phase, status.sessions_done, status.final_reason) == (
            Phase.DISCONTINUED,
            2 * INDUCTION_WEEKS,
            STOPPED_AT_REVIEW,
        ), persona
    critical = outcomes["desaturates"]
    assert [dict(row) for row in escalations] == [
        {
            "course_id": critical.course_id,
            "session": 2,
            "severity": "critical",
            "condition": "spo2_low",
            "status": "resolved",
            "acknowledged_by": NURSE,
            "resolved_by": NURSE,
            "pages": 1,
        }
    ]
    assert [row["course_id"] for row in pages] == [critical.course_id]
    assert outcomes["non_responder"].escalations == []
    assert critical.escalations == [
        "critical spo2 low, session 2: paged nurse-demo-clinic, acknowledged by nurse-demo, "
        "resolved"
    ]
