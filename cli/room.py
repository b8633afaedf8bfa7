"""The simulated clinic in the room: staff and devices playing a dosing session through the
HTTP API, as the nurse's tablet and the BP-monitor gateway would.

It behaves like a real client: it reads the session's state and does what that state calls
for; when the API refuses (the session moved on, or has not started yet) it reads the state
again and carries on, and it gives up with a one-line reason only once nothing has moved for
its patience.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
from temporalio.client import Client, WorkflowExecutionStatus

from cli.devtokens import read_dev_tokens
from cli.handles import session_handle
from domain.clock import CourseClock
from domain.escalation import Severity
from domain.protocol import LABEL_DEVICE_MG, DosingRules, SessionRules
from domain.session import SessionSummary, Stage
from domain.session_core import SessionState
from worker.client import ask
from worker.settings import Settings
from workflows.session import DosingSession

Now = Callable[[], Awaitable[datetime]]
Advance = Callable[[timedelta], Awaitable[None]]


async def wall_now() -> datetime:
    """`Now` on a live server: the wall clock."""
    return datetime.now(UTC)


async def wall_advance(duration: timedelta) -> None:
    """`Advance` on a live server: time passes as it does."""
    await asyncio.sleep(duration.total_seconds())


DRIVER = {"driver_name": "Sam Driver", "driver_phone": "+15550100777"}
LOT = "SIM-LOT-1"
POLL_FIRST = timedelta(seconds=0.02)
POLL_MOST = timedelta(seconds=0.2)
POLL_LIMIT = timedelta(seconds=30)
PATIENCE = timedelta(seconds=60)
"""How long a player keeps re-reading after refusals before it gives up (real time)."""
RETRY_AFTER = timedelta(seconds=0.25)
"""The least a player waits before it tries a refused step again."""
UNKNOWN_OUTCOME = frozenset({503, 504})
"""The API could not tell whether a staff action took effect."""
UNKNOWN_OUTCOME_PATIENCE_S = 120.0
UNKNOWN_OUTCOME_PAUSE_S = 1.0
RETRYABLE = frozenset({404, 409, 503, 504})
"""Not there yet, refused in the current state, or not answered in time: read again."""
ENDED = (Stage.DISCHARGED, Stage.NOT_DOSED, Stage.CLOSED)

PRE_DOSE = {"systolic": 128, "diastolic": 82, "heart_rate": 76, "spo2": 98}
AT_40_MINUTES = {**PRE_DOSE, "systolic": 134, "diastolic": 84, "spo2": 97, "moaas": 4, "cadss": 8}
DESATURATED = {**AT_40_MINUTES, "heart_rate": 92, "spo2": 85}
"""SpO2 below 90%: critical, so it pages the on-call nurse."""
RECOVERED = {**AT_40_MINUTES, "spo2": 96}
STABLE = {**PRE_DOSE, "systolic": 126, "diastolic": 80, "heart_rate": 74, "moaas": 5, "cadss": 0}
RESOLUTION = "SpO2 back to 96% after stimulation and oxygen; stable, monitoring completed"
# The simulated staff keep the label's timings.
BP_CHECK_MINUTES = SessionRules().bp_check_after_minutes
MINUTES_BETWEEN_DEVICES = DosingRules().minutes_between_devices
LAST_READING_MINUTES = 125
"""Two hours of monitoring and a few minutes for the last set of vitals. Not the two hours to
the instant: that is when the session's own timer fires, and a reading arriving at that very
moment is a race the time-skipping test server mishandles."""
RECHECK_MINUTES = 15


def token_of(settings: Settings, actor: str) -> str:
    """The local stack's dev token that signs `actor` in (`cli.devtokens`)."""
    token = read_dev_tokens(settings.api_token_file).get(actor)
    if token is None:
        raise LookupError(f"no dev token signs in {actor}: is the stack up (`make run`)?")
    return token


def bearer(settings: Settings, actor: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_of(settings, actor)}"}


class ApiRefusal(RuntimeError):
    """The API refused a request: its status code and `detail`."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {path}: {status} {detail}")
        self.status = status
        self.detail = detail

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE


class Stalled(RuntimeError):
    """A player waited longer than its patience for something to change; says why in a line."""


class ClinicApi:
    """The project's HTTP API, as a clinic system uses it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = await self._http.request(method, path, json=body or {})
        except httpx.TransportError as err:
            # No answer (a timeout, a dropped connection): like a 503, worth another try.
            raise ApiRefusal(method, path, 503, f"no answer ({type(err).__name__})") from err
        if response.is_error:
            raise ApiRefusal(method, path, response.status_code, _detail(response))
        return response.json() if response.content else None

    async def act(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A staff action, settled as the API asks: while its outcome is unknown (503, 504,
        no answer) the same request is sent again, so an action that did land is answered
        with its first result and audited as done rather than left at its intent."""
        deadline = asyncio.get_running_loop().time() + UNKNOWN_OUTCOME_PATIENCE_S
        while True:
            try:
                return await self.send(method, path, body)
            except ApiRefusal as refusal:
                late = asyncio.get_running_loop().time() >= deadline
                if refusal.status not in UNKNOWN_OUTCOME or late:
                    raise
            await asyncio.sleep(UNKNOWN_OUTCOME_PAUSE_S)


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail is not None else response.text


class Patience:
    """A player's bounded wait: each refusal or not-yet pauses, and once they have gone on for
    longer than `limit` of real time without progress, the player gives up."""

    def __init__(self, what: str, advance: Advance, limit: timedelta = PATIENCE) -> None:
        self._what = what
        self._advance = advance
        self._limit = limit
        self._since: float | None = None

    def progressed(self) -> None:
        self._since = None

    async def pause(self, why: str, at_least: timedelta = RETRY_AFTER) -> None:
        now = time.monotonic()
        if self._since is None:
            self._since = now
        elif now - self._since > self._limit.total_seconds():
            raise Stalled(f"{self._what}: gave up after {self._limit.seconds} s: {why}")
        await self._advance(max(at_least, RETRY_AFTER))


class OnCall(Protocol):
    """Whoever answers a page: acknowledges the escalation a session raised, and resolves it."""

    async def acknowledge(self, course_id: str, session: int, condition: str) -> str:
        """Once the page is out, acknowledge it; returns the escalation's id."""

    async def resolve(self, escalation_id: str, note: str) -> None: ...


@dataclass
class _Visit:
    """One session as the room player works through it: what it has sent so far."""

    course_id: str
    session: SessionSummary
    clock: CourseClock
    dose_mg: int
    desaturates: bool
    pre_dose_sent: bool = False
    dose_refused: bool = False
    """The session refused the dose (its pre-dose set too old, say): fresh vitals first."""
    forty_minutes_sent: bool = False

    @property
    def path(self) -> str:
        return f"/v1/courses/{self.course_id}/sessions/{self.session.number}"

    def room_time(self, minutes: int) -> timedelta:
        """Minutes in the room as real time on this course's clock (the session compresses
        them no more than `RESPONSE_SCALE_FLOOR`, so staff can keep up on a demo clock)."""
        return self.clock.response_duration(timedelta(minutes=minutes))


class RoomPlayer:
    """One dosing session from arranging the ride to discharge."""

    def __init__(
        self,
        api: ClinicApi,
        client: Client,
        *,
        now: Now,
        advance: Advance,
        on_call: OnCall | None = None,
        patience: timedelta = PATIENCE,
    ) -> None:
        self._api = api
        self._client = client
        self._now = now
        self._advance = advance
        self._on_call = on_call
        self._patience = patience

    async def arrange_ride(self, course_id: str, session: SessionSummary) -> SessionState:
        path = f"/v1/courses/{course_id}/sessions/{session.number}"
        await self._api.act("PUT", f"{path}/transport", DRIVER)
        return await self._state_after("POST", f"{path}/transport/confirm")

    async def _state_after(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> SessionState:
        """A staff action on the session: its answer is the session's state once it took effect."""
        return SessionState.model_validate(await self._api.act(method, path, body))

    async def attend(
        self,
        course_id: str,
        session: SessionSummary,
        clock: CourseClock,
        dose_mg: int,
        *,
        desaturates: bool = False,
    ) -> SessionSummary:
        """Play the session from wherever it stands until it has ended; returns its summary.
        A session that `desaturates` has a critical SpO2 at 40 minutes, which pages."""
        visit = _Visit(course_id, session, clock, dose_mg, desaturates)
        what = f"session {session.number} of {course_id}"
        patience = Patience(what, self._advance, self._patience)
        # Each step goes on from the state its action answered with: the session is read only
        # to wait for what it does on its own, and never once it has ended (a query on a
        # closed run replays its whole history).
        state = await self.details(session)
        while state.stage not in ENDED:
            try:
                state = await self._next_step(visit, state)
            except ApiRefusal as refusal:
                if not refusal.retryable:
                    raise
                if not await self._running(session):
                    break
                await patience.pause(str(refusal), visit.room_time(RECHECK_MINUTES))
                state = await self.details(session)
            else:
                patience.progressed()
        # The session files its REMS form, then ends; the course then moves on.
        handle = session_handle(self._client, session.workflow_id)
        return await handle.result()

    async def _next_step(self, visit: _Visit, state: SessionState) -> SessionState:
        """Take the step `state` calls for; returns the session's state after it."""
        stage = state.stage
        if state.transport_confirmed_via is None and stage is not Stage.MONITORING:
            return await self.arrange_ride(visit.course_id, visit.session)
        if stage is Stage.SCHEDULED:
            return await self._state_after("POST", f"{visit.path}/check-in")
        if stage is Stage.PRE_DOSE_VITALS:
            if not visit.pre_dose_sent:
                await self.vitals(visit.course_id, visit.session, **PRE_DOSE)
                visit.pre_dose_sent = True
            return await self.until_stage(visit.session, {Stage.READY_TO_DOSE, Stage.HELD, *ENDED})
        if stage is Stage.READY_TO_DOSE:
            return await self._administer(visit)
        if stage is Stage.MONITORING:
            return await self._monitor(visit, state)
        raise Stalled(f"session {visit.session.number} of {visit.course_id} is {stage.value}")

    async def _administer(self, visit: _Visit) -> SessionState:
        """A refused dose takes fresh pre-dose vitals before it is tried again."""
        if visit.dose_refused:
            fresh = await self.vitals(visit.course_id, visit.session, **PRE_DOSE)
            await self.until_judged(visit.session, fresh)
            visit.dose_refused = False
        device_times = [await self._now()]
        for _ in range(visit.dose_mg // LABEL_DEVICE_MG - 1):
            await self._advance(visit.room_time(MINUTES_BETWEEN_DEVICES))
            device_times.append(await self._now())
        body = {
            "dose_mg": visit.dose_mg,
            "lot": LOT,
            "device_times": [at.isoformat() for at in device_times],
        }
        try:
            return await self._state_after("POST", f"{visit.path}/administration", body)
        except ApiRefusal:
            visit.dose_refused = True
            raise

    async def _monitor(self, visit: _Visit, state: SessionState) -> SessionState:
        """The 40-minute reading, the last one after two hours, discharge. A refused discharge
        takes a fresh reading before it is tried again."""
        # The session counts from when it learned of the dose (its server's clock).
        dosed = state.dosed_at
        assert dosed is not None
        if not visit.forty_minutes_sent:
            await self._until(dosed + visit.room_time(BP_CHECK_MINUTES))
            if visit.desaturates:
                await self._desaturation(visit)
            else:
                await self.vitals(visit.course_id, visit.session, **AT_40_MINUTES)
            visit.forty_minutes_sent = True
        await self._until(dosed + visit.room_time(LAST_READING_MINUTES))
        stable = await self.vitals(visit.course_id, visit.session, **STABLE)
        judged = await self.until_judged(visit.session, stable)
        await self._settle_escalations(visit, judged)
        return await self._state_after("POST", f"{visit.path}/discharge")

    async def _desaturation(self, visit: _Visit) -> None:
        """SpO2 drops: the session pages; the on-call nurse acknowledges, the patient recovers
        (a reading says so) and she resolves the escalation."""
        if self._on_call is None:
            raise Stalled(f"session {visit.session.number} of {visit.course_id}: nobody on call")
        await self.vitals(visit.course_id, visit.session, **DESATURATED)
        escalation = await self._on_call.acknowledge(
            visit.course_id, visit.session.number, "spo2_low"
        )
        recovered = await self.vitals(visit.course_id, visit.session, **RECOVERED)
        await self.until_judged(visit.session, recovered)
        await self._on_call.resolve(escalation, RESOLUTION)

    async def _settle_escalations(self, visit: _Visit, state: SessionState) -> None:
        """An urgent escalation still open holds the discharge (e.g. the end of monitoring came
        before the last, stable reading, when the room ran late): the on-call nurse sees the
        patient is stable, acknowledges and resolves it."""
        for condition in state.escalations.open_at_least(Severity.URGENT):
            if self._on_call is None:
                raise Stalled(f"session {visit.session.number} of {visit.course_id}: {condition}")
            escalation = await self._on_call.acknowledge(
                visit.course_id, visit.session.number, condition.value
            )
            await self._on_call.resolve(escalation, RESOLUTION)

    async def vitals(self, course_id: str, session: SessionSummary, **signs: int) -> int:
        taken_at = (await self._now()).isoformat()
        path = f"/v1/courses/{course_id}/sessions/{session.number}/vitals"
        answer = await self._api.send("POST", path, {"taken_at": taken_at, **signs})
        return int(answer["reading_id"])

    async def details(self, session: SessionSummary) -> SessionState:
        handle = session_handle(self._client, session.workflow_id)
        return await ask(handle, DosingSession.details)

    async def until_stage(self, session: SessionSummary, stages: Collection[Stage]) -> SessionState:
        return await self._until_state(
            session, lambda state: state.stage in stages, f"never reached {stages}"
        )

    async def until_judged(self, session: SessionSummary, reading_id: int) -> SessionState:
        """Until the session has judged the reading."""
        return await self._until_state(
            session,
            lambda state: any(r.reading_id == reading_id for r in state.readings),
            f"never judged reading {reading_id}",
        )

    async def _until_state(
        self, session: SessionSummary, reached: Callable[[SessionState], bool], never: str
    ) -> SessionState:
        """Poll the session's state until `reached`: at once, then less and less often (every
        query waits for the workflow's attention, which a busy server rations)."""
        deadline = time.monotonic() + POLL_LIMIT.total_seconds()
        interval = POLL_FIRST
        while not reached(state := await self.details(session)):
            if time.monotonic() > deadline:
                raise Stalled(f"session {session.number} {never}: {state.stage.value}")
            await asyncio.sleep(interval.total_seconds())
            interval = min(interval * 2, POLL_MOST)
        return state

    async def _running(self, session: SessionSummary) -> bool:
        described = await self._client.get_workflow_handle(session.workflow_id).describe()
        return described.status is WorkflowExecutionStatus.RUNNING

    async def _until(self, real_time: datetime) -> None:
        delay = real_time - await self._now()
        if delay > timedelta(0):
            await self._advance(delay)
