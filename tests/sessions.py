"""Driving one dosing session through the HTTP API on the time-skipping server.

Free of pytest: the API tests and the session flow tests share it. Staff and devices act through
the API (`api`, signed in per request); the clinician's assessment goes to the course directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from cli.handles import course_handle, rems_filing_handle, session_handle
from cli.localstack import new_course_id, quiet
from cli.room import DRIVER, ClinicApi, RoomPlayer
from cli.simulation import DEMO_CLINIC, DEMO_PROTOCOL, PERSONAS, assessment_for, demo_course
from domain.calendar import next_session_at
from domain.conditions import escalation_key
from domain.contract import rems_filing_workflow_id
from domain.course import CourseStart, CourseStatus, Discontinue
from domain.escalation import escalation_workflow_id
from domain.protocol import LABEL_DEVICE_MG, DosingRules, Frequency
from domain.records import RemsSubmission
from domain.session import SessionSummary, Stage
from domain.session_core import SessionState
from tests.http_api import bearer
from workflows.course import TreatmentCourse

T = TypeVar("T")

GATEWAY = bearer("gateway-test")
NURSE = bearer("nurse-test")
DOCTOR = bearer("dr-test")
PERSONA = PERSONAS["responder"]
LOT = "LOT-7"
NORMAL = {"systolic": 128, "diastolic": 82, "heart_rate": 76, "spo2": 98}
STABLE = {"systolic": 126, "diastolic": 80, "heart_rate": 74, "spo2": 98, "moaas": 5}
"""Everything discharge looks at, all acceptable."""
BETWEEN_DEVICES = timedelta(minutes=DosingRules().minutes_between_devices)
FULL_NOTICE = timedelta(hours=49)
"""More than the first reminder's 48 h."""


async def eventually(check: Callable[[], Awaitable[T | None]], polls: int = 300) -> T:
    for _ in range(polls):
        found = await check()
        if found is not None:
            return found
        await asyncio.sleep(0.02)
    raise TimeoutError("condition never held")


def course_for(course_id: str, clinic_id: str = DEMO_CLINIC) -> CourseStart:
    return demo_course(course_id, PERSONA, time_scale=1.0, clinic_id=clinic_id)


async def start_course(api: httpx.AsyncClient, label: str, clinic_id: str = DEMO_CLINIC) -> str:
    course_id = new_course_id(label)
    course = course_for(course_id, clinic_id)
    response = await api.post("/v1/courses", json=course.model_dump(mode="json"), headers=GATEWAY)
    assert response.status_code == 201, response.text
    return course_id


async def assess(client: Client, course_id: str) -> None:
    handle = course_handle(client, course_id)
    await handle.execute_update(TreatmentCourse.submit_assessment, assessment_for(PERSONA))


async def course_status(client: Client, course_id: str) -> CourseStatus:
    handle = course_handle(client, course_id)
    await quiet(client, handle.id)
    return await handle.query(TreatmentCourse.status)


async def first_session(client: Client, course_id: str) -> SessionSummary:
    """The course's first session, once its workflow exists (the course names the session
    just before it starts the child)."""

    async def named() -> SessionSummary | None:
        return (await course_status(client, course_id)).current_session

    async def started() -> bool | None:
        try:
            await client.get_workflow_handle(session.workflow_id).describe()
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        return True

    session = await eventually(named)
    await eventually(started)  # no more queries meanwhile: each may race a task
    return session


async def course_in_record(pool: asyncpg.Pool, course_id: str) -> None:
    """Until the course has registered its patient (the record's rows hang off it)."""

    async def registered() -> bool | None:
        found = await pool.fetchval("SELECT 1 FROM courses WHERE course_id = $1", course_id)
        return True if found else None

    await eventually(registered)


async def sleep_until(env: WorkflowEnvironment, when: datetime) -> None:
    """Let virtual time run to `when` (protocol time: the courses here run at scale 1)."""
    now = await env.get_current_time()
    await env.sleep(max(when - now, timedelta(0)))


async def skip_to_check_in(env: WorkflowEnvironment, session: SessionSummary) -> None:
    """Reminders and the ride request happen on the way; check-in opens 2 h before."""
    await sleep_until(env, session.scheduled_at - timedelta(hours=1))


async def clear_of_next_slot(
    env: WorkflowEnvironment, course: CourseStart, notice: timedelta
) -> None:
    """Let time run until the course's next session slot is at least `notice` away, so a
    session scheduled now gets every reminder."""
    while True:
        now = await env.get_current_time()
        slot = next_session_at(
            Frequency.TWICE_WEEKLY,
            not_before=now,
            previous=None,
            calendar=DEMO_PROTOCOL.calendar,
            timezone=course.clinic_timezone,
        )
        if slot - now >= notice:
            return
        await sleep_until(env, slot + timedelta(minutes=1))


async def discontinue(client: Client, course_id: str) -> None:
    """End the course (and so its open session), so that it stops working through every timer
    the shared virtual clock passes in the tests that follow."""
    handle = course_handle(client, course_id)
    status = await course_status(client, course_id)
    if status.phase.is_final:
        return
    await quiet(client, handle.id)  # an Update, too, is lost if it races a task
    stop = Discontinue(reason="test over", clinician="dr-test")
    await handle.execute_update(TreatmentCourse.discontinue, stop)
    # Until the course and its session are over: a session outlives its course run, and one
    # left with an activity in flight when the test's worker stops holds the virtual clock.
    await handle.result()
    if status.current_session is not None:
        await client.get_workflow_handle(status.current_session.workflow_id).result()


async def assess_ahead(env: WorkflowEnvironment, course_id: str) -> None:
    """Assess the course when its first session is at least `FULL_NOTICE` away, wherever the
    shared virtual clock stands: every reminder is then due, and nothing runs as the session
    starts (on the time-skipping server, a message racing a task is lost)."""
    await clear_of_next_slot(env, course_for(course_id), FULL_NOTICE)
    await assess(env.client, course_id)


def path(course_id: str, session: SessionSummary | int, action: str) -> str:
    number = session if isinstance(session, int) else session.number
    return f"/v1/courses/{course_id}/sessions/{number}/{action}"


def administration(first_device: datetime, dose_mg: int = 56) -> dict[str, Any]:
    """The body that records a dose, its devices the label's 5 minutes apart."""
    return {
        "dose_mg": dose_mg,
        "lot": LOT,
        "device_times": [at.isoformat() for at in device_times(first_device, dose_mg)],
    }


def device_times(first_device: datetime, dose_mg: int) -> list[datetime]:
    return [first_device + i * BETWEEN_DEVICES for i in range(dose_mg // LABEL_DEVICE_MG)]


@dataclass(frozen=True)
class InRoom:
    """One session of a course, as the clinic's systems drive it through the API: `api` signs
    in per request, `clinic` as the nurse (the simulated clinic's way)."""

    api: httpx.AsyncClient
    clinic: ClinicApi
    env: WorkflowEnvironment
    course_id: str
    session: SessionSummary

    @property
    def player(self) -> RoomPlayer:
        """The simulated clinic in this room; it queries the session only while it is idle."""
        env = self.env
        return RoomPlayer(self.clinic, env.client, now=env.get_current_time, advance=env.sleep)

    async def send(
        self,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] = NURSE,
        method: str = "POST",
    ) -> httpx.Response:
        # Like a query, an Update that races a workflow task is lost by the time-skipping
        # server (and holds its clock): send only while the session is idle.
        await quiet(self.env.client, self.session.workflow_id)
        url = path(self.course_id, self.session, action)
        return await self.api.request(method, url, json=body or {}, headers=headers)

    async def act(self, action: str, body: dict[str, Any] | None = None, **kw: Any) -> SessionState:
        """A staff action the session accepts; answered with its state."""
        response = await self.send(action, body, **kw)
        assert response.status_code == 200, response.text
        return SessionState.model_validate(response.json())

    async def vitals(self, headers: dict[str, str], /, **signs: int) -> int:
        """A reading taken now, sent by the tablet (`NURSE`) or a gateway; returns its id."""
        taken_at = (await self.env.get_current_time()).isoformat()
        response = await self.send("vitals", {"taken_at": taken_at, **signs}, headers=headers)
        assert response.status_code == 202, response.text
        return int(response.json()["reading_id"])

    async def details(self) -> SessionState:
        return await self.player.details(self.session)

    async def until_stage(self, *stages: Stage) -> SessionState:
        return await self.player.until_stage(self.session, stages)

    async def until_judged(self, reading_id: int) -> SessionState:
        return await self.player.until_judged(self.session, reading_id)

    async def administer(self, dose_mg: int = 56) -> datetime:
        """Use the devices from now, 5 minutes apart, then record the dose; returns the first
        device's time."""
        first_device = await self.env.get_current_time()
        await sleep_until(self.env, device_times(first_device, dose_mg)[-1])
        await self.act("administration", administration(first_device, dose_mg))
        await self.until_stage(Stage.MONITORING)
        return first_device

    async def result(self) -> SessionSummary:
        handle = session_handle(self.env.client, self.session.workflow_id)
        return await handle.result()

    async def rems_filed(self) -> RemsSubmission:
        """The session's REMS form, once its `RemsFiling` has ended (the outbox files at once)."""
        workflow_id = rems_filing_workflow_id(self.course_id, self.session.number)
        handle = rems_filing_handle(self.env.client, workflow_id)
        return await handle.result()

    async def arrange_ride(self, *, confirm: bool) -> None:
        """Name the driver (asked by SMS at the first reminder); staff may confirm the ride."""
        response = await self.send("transport", DRIVER, method="PUT")
        assert response.status_code == 204, response.text
        if confirm:
            await self.act("transport/confirm")


async def scheduled_session(
    api: httpx.AsyncClient,
    clinic: ClinicApi,
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    label: str,
    clinic_id: str = DEMO_CLINIC,
) -> InRoom:
    """A new course, assessed when its first session is far enough away for every reminder."""
    course_id = await start_course(api, label, clinic_id)
    await course_in_record(pool, course_id)
    await assess_ahead(env, course_id)
    session = await first_session(env.client, course_id)
    return InRoom(api, clinic, env, course_id, session)


async def resolve_open_escalations(room: InRoom) -> None:
    """On-call staff resolve whatever the session has open, and the session hears of it."""
    occurrences = (await room.details()).escalations.by_condition
    for condition, occurrence in occurrences.items():
        if occurrence.open:
            key = escalation_key(room.session.workflow_id, condition, occurrence.number)
            handle = room.env.client.get_workflow_handle(escalation_workflow_id(key))
            await handle.execute_update("resolve", {"by": "dr-test", "note": "patient settled"})

    async def heard() -> bool | None:
        state = await room.details()
        return True if not any(o.open for o in state.escalations.by_condition.values()) else None

    await eventually(heard)


async def at_minute(room: InRoom, dosed_at: datetime, minutes: int) -> None:
    """Let time run to `minutes` after the dose. Never land on one of the session's own timers
    (the 2 h end of monitoring is at 120): a message racing the task it fires is lost by the
    time-skipping server."""
    await sleep_until(room.env, dosed_at + timedelta(minutes=minutes))


async def discharge_if_dosed(room: InRoom) -> None:
    """A patient still being monitored gets the 40-minute blood pressure and is discharged at
    2 h. (Left in the room, the session wakes every 10 minutes for the overdue reading, for
    ever; the course's discontinue leaves a dosed session alone.)"""
    state = await room.details()
    dosed_at = state.dosed_at
    if state.stage is not Stage.MONITORING or dosed_at is None:
        return
    await resolve_open_escalations(room)
    await at_minute(room, dosed_at, 41)
    await room.until_judged(await room.vitals(NURSE, **NORMAL))
    await at_minute(room, dosed_at, 121)
    await room.until_judged(await room.vitals(NURSE, **STABLE))
    await room.act("discharge")
    await room.result()
