"""A dosing session in the room: vitals from devices and staff, and the staff's actions.

Each staff action is an Update on `DosingSession` (`course-<course_id>-session-<n>`), built
from the body plus the signed-in actor, answered with the session's state and audited: its
intent before the Update is sent and its outcome after (`api.actions`), so a retry finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel
from temporalio.workflow import UpdateMethodMultiParam

from api.actions import Action, ActionRequest, send_action
from api.audit import audited
from api.auth import ActsInRoom, OnCourse, SubmitsVitals
from api.context import ApiContext, Ctx
from api.errors import WorkflowNotFoundError, WorkflowRejectedError, responses
from api.messaging import require_running, send_signal
from api.models import (
    AdministrationRequest,
    DischargeRequest,
    HoldDecisionRequest,
    OutcomeRequest,
    ReadingAccepted,
    SessionNumber,
    TransportArrangement,
)
from domain.contract import course_workflow_id, session_workflow_id
from domain.session import (
    CheckIn,
    DriverNamed,
    ReadingArrived,
    SessionSummary,
    TransportConfirmation,
    TransportConfirmedVia,
)
from domain.session_core import SessionState
from domain.vitals import VitalSigns
from store.readings import insert_reading
from store.transport import arrange_transport
from workflows.session import DosingSession

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

router = APIRouter(prefix="/v1/courses/{course_id}/sessions/{n}", tags=["sessions"])

STAFF_ACTION = responses(401, 403, 404, 409, 422, 503, 504)
SESSION_START_WAIT_S = 2.0
"""How long an action on a session the course has not started yet waits for it."""
SESSION_START_POLL_S = 0.1
NOT_STARTED_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class InRoom:
    """A staff member acting on one session."""

    ctx: ApiContext
    caller: OnCourse
    request: ActionRequest
    n: int

    @property
    def course_id(self) -> str:
        return self.caller.course_id

    @property
    def actor(self) -> str:
        return self.caller.who.actor

    @property
    def workflow_id(self) -> str:
        return session_workflow_id(self.course_id, self.n)

    async def act(
        self,
        update: UpdateMethodMultiParam[[Any, M], R],
        message: M,
        action: str,
        **details: object,
    ) -> R:
        """The path of every staff action: the session checked (a retry skips that), its
        audit intent, the Update, its audit outcome."""
        return await send_action(
            self.ctx,
            self.caller.who,
            self.request,
            self.workflow_id,
            update,
            message,
            lambda: require_session(self.ctx, self.course_id, self.n),
            action=action,
            course_id=self.course_id,
            clinic_id=self.caller.clinic_id,
            session=self.n,
            **details,
        )


def _in_room(caller: ActsInRoom, n: SessionNumber, ctx: Ctx, request: Action) -> InRoom:
    return InRoom(ctx, caller, request, n)


Room = Annotated[InRoom, Depends(_in_room)]


async def require_session(ctx: ApiContext, course_id: str, n: int) -> None:
    """404 for an unknown session and 409 for an ended one, as `require_running`; but a session
    of a running course that does not exist yet (the course starts it a moment after it is
    due) is waited for briefly, then refused as not started yet: a 409 to retry."""
    workflow_id = session_workflow_id(course_id, n)
    try:
        await require_running(ctx.client, workflow_id)
        return
    except WorkflowNotFoundError as missing:
        try:
            await require_running(ctx.client, course_workflow_id(course_id))
        except (WorkflowNotFoundError, WorkflowRejectedError):
            raise missing from None  # no running course, so no session to come
    deadline = time.monotonic() + SESSION_START_WAIT_S
    while time.monotonic() < deadline:
        await asyncio.sleep(SESSION_START_POLL_S)
        try:
            await require_running(ctx.client, workflow_id)
            return
        except WorkflowNotFoundError:
            continue
    raise HTTPException(
        status.HTTP_409_CONFLICT,
        f"session {n} of course {course_id} has not started yet: try again shortly",
        headers={"Retry-After": str(NOT_STARTED_RETRY_AFTER_S)},
    )


@router.post(
    "/vitals",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a vitals reading",
    description=(
        "From the nurse's tablet or a device gateway: any subset of BP, heart rate, SpO2, "
        "sedation (MOAA/S) and dissociation (CADSS). The reading is stored in Postgres "
        "before this answers, then the session workflow is signalled (`reading_arrived`) "
        "and judges it against the protocol at once, in whatever stage the session is. Its "
        "`taken_at` is kept beside the time the session learned of it; one before check-in "
        "or ahead of the server's clock is judged (and pages) but satisfies no gate. A "
        "course that does not exist gets a 404, a session that has ended a 409, and one its "
        "course has not started yet a 409 with `Retry-After`; nothing is stored for any of "
        "them."
    ),
    responses=responses(401, 403, 404, 409, 422, 503),
)
async def submit_vitals(
    caller: SubmitsVitals, n: SessionNumber, body: VitalSigns, ctx: Ctx
) -> ReadingAccepted:
    course_id, who = caller.course_id, caller.who
    workflow_id = session_workflow_id(course_id, n)
    # Checked before storing rather than storing in a transaction that rolls back when the
    # signal fails: the workflow reads the reading back from Postgres as soon as it is
    # signalled, so the row must be committed by then.
    await require_session(ctx, course_id, n)
    # The reading and its audit row in one transaction; the signal once both are committed.
    async with ctx.pool.acquire() as conn, conn.transaction():
        reading_id = await insert_reading(conn, course_id, n, body, source=who.actor)
        await audited(
            conn,
            who,
            "session.vitals_recorded",
            course_id,
            caller.clinic_id,
            session=n,
            reading_id=reading_id,
        )
    arrived = ReadingArrived(reading_id=reading_id, signs=body)
    await send_signal(ctx.client, workflow_id, DosingSession.reading_arrived, arrived)
    return ReadingAccepted(reading_id=reading_id, workflow_id=workflow_id)


@router.post(
    "/check-in",
    summary="Check the patient in",
    description="From 2 h before the session. Starts the pre-dose vitals check.",
    responses=STAFF_ACTION,
)
async def check_in(room: Room) -> SessionState:
    message = CheckIn(by=room.actor)
    return await room.act(DosingSession.check_in, message, "session.checked_in")


@router.put(
    "/transport",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Arrange the ride home",
    description=(
        "Names the driver who takes the patient home (the patient may not drive until the "
        "next day). The driver is asked by SMS to confirm by replying YES: 48 h before the "
        "session, or at once when named later. Naming another driver replaces the driver and "
        "revokes a confirmation given for the ride before."
    ),
    responses=responses(401, 403, 404, 422, 503),
)
async def arrange_ride(
    caller: ActsInRoom, n: SessionNumber, body: TransportArrangement, ctx: Ctx
) -> None:
    course_id, who = caller.course_id, caller.who
    try:
        # The ride and its audit row in one transaction: one is never written without the other.
        async with ctx.pool.acquire() as conn, conn.transaction():
            revision = await arrange_transport(
                conn,
                course_id,
                n,
                driver_name=body.driver_name,
                driver_phone=body.driver_phone,
                arranged_by=who.actor,
            )
            await audited(
                conn, who, "session.transport_arranged", course_id, caller.clinic_id, session=n
            )
    except asyncpg.ForeignKeyViolationError:
        # Rides hang off the course's record, which the course writes when it starts.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"course {course_id} not found") from None
    # The session revokes a confirmation given for the driver before, and asks the new one
    # at once if the request time has passed. Sent again on every arrangement, so a retry
    # after a failed signal tells it; a session not started yet reads the driver when due.
    with contextlib.suppress(WorkflowNotFoundError, WorkflowRejectedError):
        await send_signal(
            ctx.client,
            session_workflow_id(course_id, n),
            DosingSession.driver_named,
            DriverNamed(revision=revision),
        )


@router.post(
    "/transport/confirm",
    summary="Confirm the ride home (staff)",
    description=(
        "Staff confirm the ride themselves, e.g. after a phone call. No dose is given "
        "without a confirmed ride."
    ),
    responses=STAFF_ACTION,
)
async def confirm_ride(room: Room) -> SessionState:
    message = TransportConfirmation(by=room.actor, via=TransportConfirmedVia.STAFF)
    return await room.act(DosingSession.confirm_transport, message, "session.transport_confirmed")


@router.post(
    "/hold-decision",
    summary="Decide on a held session (clinician)",
    description=(
        "A session held for pre-dose blood pressure above 140/90 waits for this: proceed to "
        "dosing, or delay (to a new time, or not dosed today). The signed-in caller is the "
        "deciding clinician."
    ),
    responses=STAFF_ACTION,
)
async def decide_hold(room: Room, body: HoldDecisionRequest) -> SessionState:
    return await room.act(
        DosingSession.decide_hold,
        body.message(clinician=room.actor),
        "session.hold_decided",
        proceed=body.proceed,
        rescheduled=body.reschedule_to is not None,
    )


@router.post(
    "/administration",
    summary="Record the dose given",
    description=(
        "Dose, each device's time (28 mg each, 5 minutes apart) and lot. Accepted only when "
        "the session is ready to dose and the ride home is confirmed; 84 mg only after a 56 mg "
        "start."
    ),
    responses=STAFF_ACTION,
)
async def record_administration(room: Room, body: AdministrationRequest) -> SessionState:
    return await room.act(
        DosingSession.record_administration,
        body.message(by=room.actor),
        "session.dose_recorded",
        dose_mg=body.dose_mg,
        devices=len(body.device_times),
        lot=body.lot,
    )


@router.post(
    "/discharge",
    summary="Discharge the patient",
    description=(
        "Refused before 2 h of monitoring, without the 40-minute blood pressure, with "
        "unacceptable vitals or without a confirmed ride. Then the REMS form is submitted."
    ),
    responses=STAFF_ACTION,
)
async def discharge(room: Room, body: DischargeRequest) -> SessionState:
    message = body.message(by=room.actor)
    return await room.act(DosingSession.discharge, message, "session.discharged")


@router.post(
    "/outcome",
    summary="Report a missed or cancelled session",
    description="For a session that will not happen; an attended one ends with its discharge.",
    responses=STAFF_ACTION,
)
async def report_outcome(room: Room, body: OutcomeRequest) -> SessionSummary:
    return await room.act(
        DosingSession.report_outcome,
        body.message(reported_by=room.actor),
        "session.outcome_reported",
        outcome=body.outcome,
    )
