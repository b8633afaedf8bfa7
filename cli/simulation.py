"""A simulated clinic that plays its part in a course: the demo's players and the tests' clinic.

A player reads the course's `status` and does what the clinic would do next: record the
assessment, report session outcomes with PHQ-9 scores, take the review and frequency decisions
the rules suggest, and answer follow-up check-ins. Time is injected, so the same player runs on a
real clock (the demo) or on the time-skipping test server (the tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from temporalio.client import Client, WorkflowHandle

from cli.room import Advance, ClinicApi, Now, RoomPlayer, quiet
from domain.contract import course_workflow_id
from domain.course import (
    AssessmentReport,
    Awaiting,
    CourseStart,
    CourseStatus,
    FrequencyChange,
    PatientContact,
    Phase,
    RelapseDecision,
    ReviewDecision,
)
from domain.eligibility import Assessment, BloodPressure
from domain.protocol import Protocol
from domain.scales import Scale, Score
from workflows.course import TreatmentCourse

CLINICIAN = "dr-sim"
SETTLE_POLLS = 100
SETTLE_POLL_SECONDS = 0.02
IDLE_STEP = timedelta(hours=6)
"""How far a player lets protocol time run when the course is busy on its own."""
DEMO_MAINTENANCE_WEEKS = 16
DEMO_CLINIC = "demo-clinic"


@dataclass(frozen=True)
class Persona:
    """A patient's course as the clinic will see it."""

    baseline_phq9: int
    session_phq9: Sequence[int]
    """PHQ-9 after each session, by session number (the last value repeats)."""
    check_in_phq9: Sequence[int]
    missed_sessions: frozenset[int] = field(default_factory=frozenset)
    dose_mg: int = 56

    def phq9_after(self, session: int) -> int:
        return self.session_phq9[min(session, len(self.session_phq9)) - 1]


PERSONAS: dict[str, Persona] = {
    "responder": Persona(
        baseline_phq9=22,
        session_phq9=(20, 18, 16, 14, 12, 10, 9, 8, 7, 6, 5, 4),
        check_in_phq9=(4, 5, 5),
        dose_mg=84,
    ),
    "non_responder": Persona(
        baseline_phq9=21,
        session_phq9=(21, 20, 20, 19, 19, 18, 18, 18),
        check_in_phq9=(),
    ),
    "misser": Persona(
        baseline_phq9=20,
        session_phq9=(*(18, 16, 14, 12, 10, 9, 9, 8), 8, 8, 8, 8, 8, 8, 12, 14, 15, 13, 11, 9, 8),
        check_in_phq9=(8, 9, 16),
        missed_sessions=frozenset({14, 15}),
    ),
}


def demo_course(course_id: str, persona: Persona, time_scale: float) -> CourseStart:
    """A course for a made-up patient: the demo's and tests' PHI is fiction."""
    return CourseStart(
        course_id=course_id,
        patient_ref=f"ref-{course_id}",
        clinic_id=DEMO_CLINIC,
        patient=PatientContact(
            name="Alex Example", phone="+15550100999", date_of_birth=date(1980, 5, 17)
        ),
        protocol=Protocol().with_overrides(
            {"phases": {"maintenance_weeks": DEMO_MAINTENANCE_WEEKS}}, version="2026.1+demo"
        ),
        time_scale=time_scale,
    )


def assessment_for(persona: Persona) -> AssessmentReport:
    return AssessmentReport(
        assessment=Assessment(
            clinician=CLINICIAN,
            failed_antidepressants=3,
            rems_enrolled=True,
            baseline_scores=(Score(scale=Scale.PHQ9, total=persona.baseline_phq9),),
            baseline_bp=BloodPressure(systolic=124, diastolic=78),
        )
    )


class ClinicPlayer:
    """Clinicians decide through Temporal Updates; staff and devices work through the HTTP API."""

    def __init__(
        self,
        client: Client,
        api: ClinicApi,
        course_id: str,
        persona: Persona,
        *,
        now: Now,
        advance: Advance,
    ) -> None:
        self._client = client
        self._api = api
        self._course_id = course_id
        self._course: WorkflowHandle[TreatmentCourse, object] = client.get_workflow_handle_for(
            TreatmentCourse.run, course_workflow_id(course_id)
        )
        self._persona = persona
        self._now = now
        self._advance = advance
        self._room = RoomPlayer(api, client, now=now, advance=advance)
        self._rides_arranged: set[int] = set()
        self.frequency_changes: list[FrequencyChange] = []
        self.relapse_decisions = 0

    async def play(self) -> CourseStatus:
        status = await self._status()
        while not status.phase.is_final:
            if await self._step(status):
                status = await self._settled(status)
            else:
                status = await self._status()
        return status

    async def _settled(self, before: CourseStatus) -> CourseStatus:
        """The status once the course has taken in the last step (it moves on asynchronously).
        Its escalations change on their own: no sign that it has."""
        for _ in range(SETTLE_POLLS):
            status = await self._status()
            if status.model_copy(update={"open_escalations": before.open_escalations}) != before:
                return status
            await asyncio.sleep(SETTLE_POLL_SECONDS)
        return status

    async def _status(self) -> CourseStatus:
        await quiet(self._client, self._course.id)
        return await self._course.query(TreatmentCourse.status)

    async def _step(self, status: CourseStatus) -> bool:
        """Do what the clinic does next: True if it told the course something, False if it
        let time pass."""
        if status.awaiting is Awaiting.ASSESSMENT:
            await self._course.execute_update(
                TreatmentCourse.submit_assessment, assessment_for(self._persona)
            )
        elif status.awaiting is Awaiting.REVIEW_DECISION and status.benefit is not None:
            response = status.benefit.response
            await self._course.execute_update(
                TreatmentCourse.decide_review,
                ReviewDecision(
                    continue_treatment=response,
                    clinician=CLINICIAN,
                    note="response at end of induction" if response else "no response",
                ),
            )
        elif (
            status.phase is Phase.MAINTENANCE
            and status.suggestion is not None
            and status.suggestion.frequency is not status.frequency
        ):
            change = FrequencyChange(
                frequency=status.suggestion.frequency,
                clinician=CLINICIAN,
                reason=status.suggestion.reason,
            )
            await self._course.execute_update(TreatmentCourse.change_frequency, change)
            self.frequency_changes.append(change)
        elif status.awaiting is Awaiting.SESSION and status.current_session is not None:
            return await self._attend_or_miss(status)
        elif status.awaiting is Awaiting.CHECK_IN:
            await self._check_in(status)
        elif status.awaiting is Awaiting.RELAPSE_DECISION:
            await self._course.execute_update(
                TreatmentCourse.decide_relapse,
                RelapseDecision(reinduce=False, clinician=CLINICIAN, note="watchful waiting"),
            )
            self.relapse_decisions += 1
        else:
            target = status.next_check_in_at or (
                status.clock.to_protocol(await self._now()) + IDLE_STEP
            )
            await self._wait_until(status, target)
            return False
        return True

    async def _attend_or_miss(self, status: CourseStatus) -> bool:
        session = status.current_session
        assert session is not None
        if session.number in self._persona.missed_sessions:
            await self._wait_until(status, session.scheduled_at + IDLE_STEP * 3)
            return False
        if session.number not in self._rides_arranged:
            await self._room.arrange_ride(self._course_id, session)
            self._rides_arranged.add(session.number)
        if status.clock.to_protocol(await self._now()) < session.scheduled_at:
            await self._wait_until(status, session.scheduled_at)
            return False
        dose = self._persona.dose_mg if status.sessions_done else 56
        await self._room.attend(self._course_id, session, status.clock, dose)
        await self._report_phq9(self._persona.phq9_after(session.number))
        return True

    async def _report_phq9(self, total: int) -> None:
        await self._api.send(
            "POST", f"/v1/courses/{self._course_id}/scores", {"scale": "phq9", "total": total}
        )

    async def _check_in(self, status: CourseStatus) -> None:
        scores = self._persona.check_in_phq9
        done = status.check_ins_done
        total = scores[min(done, len(scores) - 1)] if scores else self._persona.baseline_phq9
        await self._report_phq9(total)

    async def _wait_until(self, status: CourseStatus, protocol_time: datetime) -> None:
        real_now = await self._now()
        delay = status.clock.real_delay_until(protocol_time, real_now)
        await self._advance(max(delay, status.clock.real_duration(timedelta(minutes=1))))


async def play_course(
    client: Client, api: ClinicApi, course_id: str, persona: Persona, *, now: Now, advance: Advance
) -> CourseStatus:
    return await ClinicPlayer(client, api, course_id, persona, now=now, advance=advance).play()
