"""Clinic events: each one a validated Update on the course, from options or `--file`."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import options
from cli.caller import on_course
from cli.errors import reported
from cli.render import eligibility, session_line
from cli.runtime import deliver
from domain.access import Permission
from domain.course import (
    AssessmentReport,
    Discontinue,
    EndMaintenance,
    FrequencyChange,
    Pause,
    RelapseDecision,
    Reschedule,
    Resume,
    ReviewDecision,
    ScoreReport,
)
from domain.protocol import Frequency
from workflows.course import TreatmentCourse

app = typer.Typer()


@app.command()
@reported
def assess(course_id: options.CourseId, file: options.File = None) -> None:
    """Submit the assessment (an AssessmentReport JSON) and print the eligibility."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.submit_assessment,
        AssessmentReport,
        file,
        {},
        done="assessment recorded",
        show=eligibility,
    )


@app.command()
@reported
def score(
    course_id: options.CourseId,
    scale: options.ScaleOption = None,
    total: options.Total = None,
    item9: options.Item9 = None,
    by: options.By = None,
    file: options.File = None,
) -> None:
    """Record a PHQ-9 or MADRS score (a follow-up check-in, or any time during the course)."""
    deliver(
        on_course(course_id, Permission.REPORT_SCORE),
        TreatmentCourse.record_score,
        ScoreReport,
        file,
        {"score": options.score(scale, total, item9), "reported_by": by},
        done="score recorded",
    )


@app.command()
@reported
def review(
    course_id: options.CourseId,
    continue_treatment: Annotated[
        bool | None,
        typer.Option("--continue/--stop", help="Continue into maintenance, or stop the course."),
    ] = None,
    clinician: options.Clinician = None,
    note: options.Note = None,
    file: options.File = None,
) -> None:
    """Decide the end-of-induction review."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.decide_review,
        ReviewDecision,
        file,
        {"continue_treatment": continue_treatment, "clinician": clinician, "note": note},
        done="review decided",
    )


@app.command()
@reported
def frequency(
    course_id: options.CourseId,
    to: Annotated[Frequency | None, typer.Option("--set", help="The new frequency.")] = None,
    clinician: options.Clinician = None,
    reason: options.Reason = None,
    file: options.File = None,
) -> None:
    """Change the maintenance frequency."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.change_frequency,
        FrequencyChange,
        file,
        {"frequency": to, "clinician": clinician, "reason": reason},
        done="frequency changed",
    )


@app.command("end-maintenance")
@reported
def end_maintenance(
    course_id: options.CourseId,
    clinician: options.Clinician = None,
    note: options.Note = None,
    file: options.File = None,
) -> None:
    """End maintenance: the course moves on to follow-up."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.end_maintenance,
        EndMaintenance,
        file,
        {"clinician": clinician, "note": note},
        done="maintenance ended",
    )


@app.command()
@reported
def relapse(
    course_id: options.CourseId,
    reinduce: Annotated[
        bool | None,
        typer.Option(
            "--reinduce/--no-reinduce", help="Start induction again, or stay in follow-up."
        ),
    ] = None,
    clinician: options.Clinician = None,
    note: options.Note = None,
    file: options.File = None,
) -> None:
    """Decide on a relapse flagged at follow-up."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.decide_relapse,
        RelapseDecision,
        file,
        {"reinduce": reinduce, "clinician": clinician, "note": note},
        done="relapse decided",
    )


@app.command()
@reported
def pause(
    course_id: options.CourseId,
    reason: options.Reason = None,
    by: options.By = None,
    file: options.File = None,
) -> None:
    """Pause the course: the scheduled session is cancelled until it resumes."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.pause,
        Pause,
        file,
        {"reason": reason, "requested_by": by},
        done="course paused",
    )


@app.command()
@reported
def resume(course_id: options.CourseId, by: options.By = None, file: options.File = None) -> None:
    """Resume a paused course."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.resume,
        Resume,
        file,
        {"requested_by": by},
        done="course resumed",
    )


@app.command()
@reported
def discontinue(
    course_id: options.CourseId,
    reason: options.Reason = None,
    clinician: options.Clinician = None,
    file: options.File = None,
) -> None:
    """Discontinue the course."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.discontinue,
        Discontinue,
        file,
        {"reason": reason, "clinician": clinician},
        done="course discontinued",
    )


@app.command()
@reported
def reschedule(
    course_id: options.CourseId,
    session: Annotated[int | None, typer.Option(help="The scheduled session's number.")] = None,
    at: Annotated[
        str | None, typer.Option(help="The new time, ISO 8601 with its offset (protocol time).")
    ] = None,
    by: options.By = None,
    reason: options.Reason = None,
    file: options.File = None,
    as_json: options.Json = False,
) -> None:
    """Move the scheduled session to a new time."""
    deliver(
        on_course(course_id, Permission.DECIDE_COURSE),
        TreatmentCourse.reschedule_session,
        Reschedule,
        file,
        {"session": session, "new_time": at, "requested_by": by, "reason": reason},
        done="session rescheduled",
        show=session_line,
        as_json=as_json,
    )
