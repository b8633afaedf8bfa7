"""A staff action is applied once per attempt, and the audit log says what was applied, whatever a
caller's retries, lost answers and copies sent at once (the `api.actions` contract).

The property runs random sequences of sends of a score report (an Update of the course) through
the API: each with a caller's `Idempotency-Key` or none, sent as one copy or several at once,
its answer waited for or lost. A lost send is cut off after a few milliseconds, wherever the API
then stands (before its intent, between the intent and the Update, while the Update is out,
before its outcome), as a crash of the API or a dropped connection would leave it. The sequence
ends as a caller would end it: each key, and each request whose last send was lost, is sent once
more. Then:
- every send waited for is answered 204, and a lost one 204 or 504 (outcome unknown) if at all:
  no retry is refused or fails;
- each attempt in the audit log has one intent and then one outcome, done;
- the course applied (accepted in its history) as many reports as the log has done attempts;
- a key's report was applied exactly once; a request without a key, at least once per send
  answered and at most once per copy sent (a lost copy may have taken effect before it was cut
  off, and a copy that finds the one sent with it already answered is, by the contract, a new
  action).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from cli.handles import course_handle
from domain.course import ScoreReport
from tests.http_api import NURSE, api_client, api_settings
from tests.sessions import start_course
from worker.settings import Settings

pytestmark = pytest.mark.usefixtures("worker")

KEYS = 3
"""Idempotency keys a sequence draws from."""
KEYED_TOTALS = (10, 11)
"""The PHQ-9 total of a key's report (key k sends KEYED_TOTALS[k % 2]): told apart from the
reports sent without a key in the course's history."""
UNKEYED_TOTALS = (12, 13)
SCORE = "course.score_recorded"
UNKNOWN = 504
"""The API's answer when it cannot tell whether the Update took effect."""


@dataclass(frozen=True)
class Send:
    key: int | None
    """The caller's Idempotency-Key (by number), or none."""
    unkeyed_total: int
    """The report's total when sent without a key."""
    copies: int
    """Sent at once, as a double tap or an eager retry would."""
    lost_after_ms: int | None
    """The caller is cut off this long after sending (None: it waits for the answer)."""

    @property
    def total(self) -> int:
        return self.unkeyed_total if self.key is None else KEYED_TOTALS[self.key % 2]


sends = st.builds(
    Send,
    key=st.none() | st.integers(0, KEYS - 1),
    unkeyed_total=st.sampled_from(UNKEYED_TOTALS),
    copies=st.integers(1, 3),
    lost_after_ms=st.none() | st.integers(0, 40),
)


@dataclass
class Unkeyed:
    """The sends without a key of one report."""

    answered: int = 0
    """Sends with a copy answered."""
    copies: int = 0
    last_lost: bool = False


@dataclass
class Caller:
    """What one sequence sent, and which of it was answered."""

    api: httpx.AsyncClient
    course_id: str
    keys: set[int] = field(default_factory=set)
    unkeyed: dict[int, Unkeyed] = field(default_factory=dict)

    async def send(self, send: Send) -> None:
        headers = {} if send.key is None else {"Idempotency-Key": f"{self.course_id}-{send.key}"}
        body = {"scale": "phq9", "total": send.total, "item9": 0}
        copies = [
            asyncio.create_task(
                self.api.post(f"/v1/courses/{self.course_id}/scores", json=body, headers=headers)
            )
            for _ in range(send.copies)
        ]
        if send.lost_after_ms is not None:
            await asyncio.sleep(send.lost_after_ms / 1000)
            for copy in copies:
                copy.cancel()
        outcomes = await asyncio.gather(*copies, return_exceptions=True)
        if errors := [o for o in outcomes if isinstance(o, Exception)]:
            raise errors[0]
        statuses = [o.status_code for o in outcomes if isinstance(o, httpx.Response)]
        # Cut off while its Update is out, a copy answers that its outcome is unknown: the SDK
        # turns the cancelled RPC into "timed out or cancelled", and the API cannot tell which.
        assert set(statuses) <= ({204} if send.lost_after_ms is None else {204, UNKNOWN}), send
        answered = statuses.count(204)
        if send.key is not None:
            self.keys.add(send.key)
            return
        tally = self.unkeyed.setdefault(send.total, Unkeyed())
        tally.copies += send.copies
        tally.last_lost = not answered
        tally.answered += bool(answered)

    async def finish(self) -> None:
        """Send each key, and each request whose last send was lost, once more."""
        for key in sorted(self.keys):
            await self.send(Send(key, UNKEYED_TOTALS[0], copies=1, lost_after_ms=None))
        for total, tally in sorted(self.unkeyed.items()):
            if tally.last_lost:
                await self.send(Send(None, total, copies=1, lost_after_ms=None))


async def applied_totals(client: Client, course_id: str) -> Counter[int]:
    """The totals of the score reports the course accepted, from its history."""
    history = await course_handle(client, course_id).fetch_history()
    totals: Counter[int] = Counter()
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        update = event.workflow_execution_update_accepted_event_attributes.accepted_request.input
        if update.name == "record_score":
            [report] = await client.data_converter.decode(update.args.payloads, [ScoreReport])
            totals[report.score.total] += 1
    return totals


async def audited_attempts(pool: asyncpg.Pool, course_id: str) -> dict[tuple[str, int], list[str]]:
    """The stages of each attempt at a score report, in the order they were written."""
    rows = await pool.fetch(
        "SELECT request_key, attempt, stage FROM audit_log"
        " WHERE course_id = $1 AND action = $2 ORDER BY id",
        course_id,
        SCORE,
    )
    stages: dict[tuple[str, int], list[str]] = {}
    for row in rows:
        stages.setdefault((row["request_key"], row["attempt"]), []).append(row["stage"])
    return stages


@pytest.fixture(scope="module")
async def nurse_api(
    settings: Settings, client: Client, db_pool: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_settings(settings), client, db_pool, actor=NURSE) as http:
        yield http


@settings(max_examples=25, deadline=None)
@given(sequence=st.lists(sends, min_size=1, max_size=6))
async def test_an_action_is_applied_once_per_attempt_and_audited_as_applied(
    nurse_api: httpx.AsyncClient, client: Client, db_pool: asyncpg.Pool, sequence: list[Send]
) -> None:
    caller = Caller(nurse_api, await start_course(nurse_api, "retries"))
    for send in sequence:
        await caller.send(send)
    await caller.finish()

    attempts = await audited_attempts(db_pool, caller.course_id)
    assert all(stages == ["intent", "done"] for stages in attempts.values()), attempts
    applied = await applied_totals(client, caller.course_id)
    assert applied.total() == len(attempts)
    by_key = Counter(KEYED_TOTALS[key % 2] for key in caller.keys)
    assert {total: applied[total] for total in KEYED_TOTALS} == {
        total: by_key[total] for total in KEYED_TOTALS
    }
    for total, tally in caller.unkeyed.items():
        assert tally.answered <= applied[total] <= tally.copies, (total, tally)
