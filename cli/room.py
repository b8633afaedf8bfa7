"""The simulated clinic in the room: staff and devices playing a dosing session through the
HTTP API, as the nurse's tablet and the BP-monitor gateway would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from domain.clock import CourseClock
from domain.session import SessionState, SessionSummary, Stage
from workflows.session import DosingSession

Now = Callable[[], Awaitable[datetime]]
Advance = Callable[[timedelta], Awaitable[None]]

DRIVER = {"driver_name": "Sam Driver", "driver_phone": "+15550100777"}
LOT = "SIM-LOT-1"
POLLS = 500
POLL_SECONDS = 0.02
IN_FLIGHT = (
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
)


class ClinicApi:
    """The project's HTTP API, as a clinic system uses it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._http.request(method, path, json=body or {})
        if response.is_error:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None


async def quiet(client: Client, workflow_id: str) -> None:
    """Wait until a workflow has no task in flight.

    The time-skipping test server loses a query that it buffers behind a task which ends the
    run, so the simulated clinic asks only when the workflow is idle.
    """
    for _ in range(POLLS):
        last = None
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            last = event.event_type
        if last not in IN_FLIGHT:
            return
        await asyncio.sleep(POLL_SECONDS)


class RoomPlayer:
    """One dosing session from arranging the ride to discharge."""

    def __init__(self, api: ClinicApi, client: Client, *, now: Now, advance: Advance) -> None:
        self._api = api
        self._client = client
        self._now = now
        self._advance = advance

    async def arrange_ride(self, course_id: str, session: SessionSummary) -> None:
        path = self._path(course_id, session)
        await self._api.send("PUT", f"{path}/transport", DRIVER)
        await self._api.send("POST", f"{path}/transport/confirm")

    async def attend(
        self, course_id: str, session: SessionSummary, clock: CourseClock, dose_mg: int
    ) -> None:
        path = self._path(course_id, session)
        await self._api.send("POST", f"{path}/check-in")
        await self.vitals(course_id, session, systolic=128, diastolic=82, heart_rate=76, spo2=98)
        await self.until_stage(session, {Stage.READY_TO_DOSE})
        first_device = await self._now()
        await self._api.send(
            "POST",
            f"{path}/administration",
            {
                "dose_mg": dose_mg,
                "devices": dose_mg // 28,
                "lot": LOT,
                "first_device_at": first_device.isoformat(),
            },
        )
        await self.until_stage(session, {Stage.MONITORING})
        await self._advance(clock.real_duration(timedelta(minutes=40)))
        await self.vitals(
            course_id, session, systolic=134, diastolic=84, heart_rate=80, spo2=97, moaas=4, cadss=8
        )
        await self._advance(clock.real_duration(timedelta(minutes=80)))
        await self.vitals(
            course_id, session, systolic=126, diastolic=80, heart_rate=74, spo2=98, moaas=5, cadss=0
        )
        await self.until_checked(session)
        await self._api.send("POST", f"{path}/discharge")
        # The session files its REMS form, then ends; the course then moves on.
        await self._client.get_workflow_handle(session.workflow_id).result()

    async def vitals(self, course_id: str, session: SessionSummary, **signs: int) -> int:
        taken_at = (await self._now()).isoformat()
        path = f"{self._path(course_id, session)}/vitals"
        answer = await self._api.send("POST", path, {"taken_at": taken_at, **signs})
        return int(answer["reading_id"])

    async def details(self, session: SessionSummary) -> SessionState:
        await quiet(self._client, session.workflow_id)
        handle = self._client.get_workflow_handle_for(DosingSession.run, session.workflow_id)
        return await handle.query(DosingSession.details)

    async def until_stage(self, session: SessionSummary, stages: Collection[Stage]) -> SessionState:
        for _ in range(POLLS):
            state = await self.details(session)
            if state.stage in stages:
                return state
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"session {session.number} never reached {stages}: {state.stage}")

    async def until_checked(self, session: SessionSummary) -> SessionState:
        """Until the session has classified every reading sent so far."""
        for _ in range(POLLS):
            state = await self.details(session)
            if state.readings_checked == len(state.readings):
                return state
            await asyncio.sleep(POLL_SECONDS)
        raise TimeoutError(f"session {session.number} left readings unchecked")

    @staticmethod
    def _path(course_id: str, session: SessionSummary) -> str:
        return f"/v1/courses/{course_id}/sessions/{session.number}"
