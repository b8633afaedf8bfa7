"""Names other services code against: task queue, workflow ids, search attributes."""

from __future__ import annotations

import re

from temporalio.common import SearchAttributeKey

from domain.conditions import Condition

TASK_QUEUE = "trd-courses"
"""Courses, sessions, REMS filings and their activities."""
ESCALATION_TASK_QUEUE = "trd-escalations"
"""Escalations and their activities (paging first): a lane of their own, with their own worker
slots, so that a backlog of routine work never delays a page. Escalations opened before it
existed finish on `TASK_QUEUE`, whose workers still run them."""

COURSE_WORKFLOW_TYPE = "TreatmentCourse"
ESCALATION_WORKFLOW_TYPE = "Escalation"

COURSE_PHASE = SearchAttributeKey.for_keyword("CoursePhase")
CLINIC_ID = SearchAttributeKey.for_keyword("ClinicId")
PATIENT_REF = SearchAttributeKey.for_keyword("PatientRef")
NEXT_SESSION_AT = SearchAttributeKey.for_datetime("NextSessionAt")
OPEN_ESCALATIONS = SearchAttributeKey.for_int("OpenEscalations")
SEARCH_ATTRIBUTES = (COURSE_PHASE, CLINIC_ID, PATIENT_REF, NEXT_SESSION_AT, OPEN_ESCALATIONS)


SESSION_INFIX = "-session-"
MAX_SESSIONS = 1_000
"""Above any course the protocol's bounds allow (at most 520 weeks of maintenance, weekly)."""


def course_workflow_id(course_id: str) -> str:
    return f"course-{course_id}"


def session_workflow_id(course_id: str, number: int) -> str:
    return f"course-{course_id}{SESSION_INFIX}{number}"


def course_id_is_unambiguous(course_id: str) -> str:
    """A course id holding the session infix would name another course's session (course
    `c-1-session-2` is `course-c-1-session-2`, session 2 of `c-1`): refused."""
    if SESSION_INFIX in course_id:
        raise ValueError(f"a course id may not contain {SESSION_INFIX!r}: it names sessions")
    return course_id


def rems_filing_workflow_id(course_id: str, number: int) -> str:
    return f"{session_workflow_id(course_id, number)}-rems"


_COURSE_WORKFLOW = re.compile(r"course-(?P<course>[a-z0-9-]+?)(?:-session-(?P<n>\d+)(?:-rems)?)?")
_ESCALATION_WORKFLOW = re.compile(
    # Keys from before occurrences were counted end at the condition.
    rf"escalation-(?P<owner>.+)-(?:{'|'.join(map(re.escape, Condition))})(?:-\d+)?"
)


def course_of(workflow_id: str) -> tuple[str | None, int | None]:
    """The course and session a workflow id names (a course, a session, its REMS filing, or
    an escalation of either); None where it names none."""
    if escalation := _ESCALATION_WORKFLOW.fullmatch(workflow_id):
        workflow_id = escalation["owner"]
    if not (found := _COURSE_WORKFLOW.fullmatch(workflow_id)):
        return None, None
    return found["course"], None if found["n"] is None else int(found["n"])
