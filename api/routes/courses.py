"""Courses: start one, read its status, record a score."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Response, status
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.actions import Action, send_action
from api.audit import audited
from api.auth import ReadsCourse, ReportsScore, StartsCourses, out_of_scope
from api.context import Ctx
from api.errors import WorkflowRejectedError, build, invalid, responses
from api.messaging import query
from api.models import CourseCreated
from domain.contract import course_workflow_id
from domain.course import CourseStart, CourseStatus, ScoreReport
from domain.scales import Score
from store.patients import STARTED_ONCE, admit
from worker.client import SimulationNotAllowedError, check_simulation, start_course
from workflows.course import TreatmentCourse

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/courses", tags=["courses"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Start a treatment course",
    description=(
        "Starts the `TreatmentCourse` workflow `course-<course_id>`, which waits for the "
        "assessment. A course id is started only once, even after its course has ended. "
        "The patient's contact details travel encrypted and are never logged."
    ),
    responses=responses(401, 403, 409, 422, 503),
)
async def start(
    body: CourseStart, ctx: Ctx, who: StartsCourses, response: Response
) -> CourseCreated:
    if body.carried_state is not None:
        raise invalid(
            [{"loc": ("carried_state",), "msg": "set by the course itself", "type": "value_error"}]
        )
    try:
        check_simulation(body, ctx.settings)
    except SimulationNotAllowedError as err:
        raise invalid([{"loc": ("time_scale",), "msg": str(err), "type": "value_error"}]) from None
    if not who.covers(body.clinic_id):
        raise out_of_scope(who, body.clinic_id)
    workflow_id = course_workflow_id(body.course_id)
    # The clinic is claimed with the audit row, before the start: every later request is
    # scoped by it. A start that then fails leaves the claim, for its retry.
    async with ctx.pool.acquire() as conn, conn.transaction():
        refusal = await admit(conn, body)
        if refusal is not None:
            raise WorkflowRejectedError(workflow_id, refusal)
        await audited(conn, who, "course.start_requested", body.course_id, body.clinic_id)
    try:
        handle = await start_course(ctx.client, body, ctx.settings)
    except WorkflowAlreadyStartedError as err:
        raise WorkflowRejectedError(
            err.workflow_id, STARTED_ONCE.format(workflow_id=err.workflow_id)
        ) from None
    await audited(ctx.pool, who, "course.started", body.course_id, body.clinic_id)
    response.headers["Location"] = f"{router.prefix}/{body.course_id}"
    return CourseCreated(
        course_id=body.course_id, workflow_id=handle.id, run_id=handle.result_run_id
    )


@router.get(
    "/{course_id}",
    summary="A course's status",
    description=(
        "The `status` query of `TreatmentCourse`: the phase, the sessions done, the next "
        "session's time, the latest scores and the open escalations."
    ),
    responses=responses(401, 403, 404, 422, 503),
)
async def course_status(ctx: Ctx, caller: ReadsCourse) -> CourseStatus:
    found = await query(ctx.client, course_workflow_id(caller.course_id), TreatmentCourse.status)
    await audited(ctx.pool, caller.who, "course.read", caller.course_id, caller.clinic_id)
    return found


@router.post(
    "/{course_id}/scores",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Record a PHQ-9 or MADRS score",
    description=(
        "The `record_score` Update of `TreatmentCourse`, reported by the signed-in caller. "
        "A PHQ-9 with item 9 above 0 raises same-day clinician follow-up. A staff member's "
        "score is audited before and after; a retry is recorded once."
    ),
    responses=responses(401, 403, 404, 409, 422, 503, 504),
)
async def record_score(caller: ReportsScore, body: Score, ctx: Ctx, request: Action) -> None:
    report = build(ScoreReport, {"score": body, "reported_by": caller.who.actor})
    await send_action(
        ctx,
        caller.who,
        request,
        course_workflow_id(caller.course_id),
        TreatmentCourse.record_score,
        report,
        action="course.score_recorded",
        course_id=caller.course_id,
        clinic_id=caller.clinic_id,
        scale=body.scale,
    )
