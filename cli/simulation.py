"""A simulated clinic that plays its part in a course: the demo's players and the tests' clinic.

A player reads the course's `status` and does what the clinic would do next: record the
assessment, play each session in the room, report PHQ-9 scores, take the review and frequency
decisions the rules suggest, and answer follow-up check-ins. Like a real client, it reads the
status again whenever the course is not yet where it will be (a refusal, a session over but
still shown), within a bounded patience. Time is injected, so the same player runs on a real
clock (the demo) or on the time-skipping test server (the tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError

from cli.handles import course_handle
from cli.room import (
    PATIENCE,
    Advance,
    ApiRefusal,
    ClinicApi,
    Now,
    OnCall,
    Patience,
    RoomPlayer,
)
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
from domain.escalation import EscalationChanged
from domain.protocol import Protocol
from domain.scales import Scale, Score
from domain.session import SessionSummary
from worker.client import ask
from workflows.course import TreatmentCourse

CLINICIAN = "dr-sim"
SETTLE_POLLS = 100
SETTLE_POLL_SECONDS = 0.02
IDLE_STEP = timedelta(hours=6)
"""How far a player lets protocol time run when the course is busy on its own."""
NO_SHOW_AFTER = timedelta(hours=1)
DEMO_CLINIC = "demo-clinic"
DEMO_PROTOCOL = Protocol().with_overrides(
    {"phases": {"maintenance_weeks": 24}}, version="2026.1-demo"
)
"""The demo clinic's protocol: the label's, with maintenance ending after 24 weeks. On the
demo's clock a session's minutes in the room take days of its calendar, so sessions come about
every two weeks whatever the frequency: a long maintenance leaves the misser the sessions to
miss and then to step back to weekly."""


@dataclass(frozen=True)
class Persona:
    """A patient's course as the clinic will see it."""

    baseline_phq9: int
    session_phq9: Sequence[int]
    """PHQ-9 after each session, by session number (the last value repeats)."""
    check_in_phq9: Sequence[int]
    missed_sessions: frozenset[int] = field(default_factory=frozenset)
    dose_mg: int = 56
    desaturates_at_session: int | None = None
    """A session whose 40-minute reading has a critical SpO2: it pages the on-call nurse."""

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
    "desaturates": Persona(
        baseline_phq9=23,
        session_phq9=(22, 21, 21, 20, 19, 19, 18, 18),
        check_in_phq9=(),
        desaturates_at_session=2,
    ),
}


def demo_course(
    course_id: str, persona: Persona, time_scale: float, clinic_id: str = DEMO_CLINIC
) -> CourseStart:
    """A course for a made-up patient: the demo's and tests' PHI is fiction."""
    return CourseStart(
        course_id=course_id,
        patient_ref=f"ref-{course_id}",
        clinic_id=clinic_id,
        patient=PatientContact(
            name="Alex Example", phone="+15550100999", date_of_birth=date(1980, 5, 17)
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


class Step(Enum):
    """What a player's step did."""

    TOLD = "told"
    """Told the course something: it moves on asynchronously."""
    WAITED = "waited"
    """Let time pass, as the course waits on its own."""
    NOT_YET = "not yet"
    """Found the course not yet where it will be: read again."""


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
        on_call: OnCall | None = None,
        patience: timedelta = PATIENCE,
    ) -> None:
        self._client = client
        self._api = api
        self._course_id = course_id
        self._course: WorkflowHandle[TreatmentCourse, object] = course_handle(client, course_id)
        self._persona = persona
        self._now = now
        self._advance = advance
        self._room = RoomPlayer(
            api, client, now=now, advance=advance, on_call=on_call, patience=patience
        )
        self._patience = Patience(f"course {course_id}", advance, patience)
        self._rides_arranged: set[int] = set()
        self._played: set[int] = set()
        """Sessions the clinic has seen end: never played again, whatever a status says."""
        self.frequency_changes: list[FrequencyChange] = []
        self.relapse_decisions = 0
        self.escalations: dict[str, EscalationChanged] = {}
        """Every escalation of the course seen open in its status, by id."""

    async def play(self) -> CourseStatus:
        status = await self._status()
        while not status.phase.is_final:
            try:
                step = await self._step(status)
            except (ApiRefusal, WorkflowUpdateFailedError, RPCError) as err:
                if isinstance(err, ApiRefusal) and not err.retryable:
                    raise
                # The course moved on, or is not there yet: read it again and carry on.
                await self._patience.pause(_why(err))
                step = Step.NOT_YET
            if step is not Step.NOT_YET:
                self._patience.progressed()
            status = await self._settled(status) if step is Step.TOLD else await self._status()
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
        while True:
            try:
                status = await ask(self._course, TreatmentCourse.status)
            except (RPCError, WorkflowQueryFailedError) as err:
                await self._patience.pause(f"status unreadable: {err}")
                continue
            self.escalations.update({e.escalation_id: e for e in status.open_escalations})
            return status

    async def _step(self, status: CourseStatus) -> Step:
        """Do what the clinic does next."""
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
        elif status.awaiting is Awaiting.SESSION:
            if status.current_session is None:
                # Scheduled, about to start: the status names a session once it exists.
                await self._patience.pause("the session due has not started yet")
                return Step.NOT_YET
            return await self._attend_or_miss(status, status.current_session)
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
            return Step.WAITED
        return Step.TOLD

    async def _attend_or_miss(self, status: CourseStatus, session: SessionSummary) -> Step:
        if session.number in self._played:
            # Over, but the course has not taken that in yet.
            await self._patience.pause(f"session {session.number} is over, still current")
            return Step.NOT_YET
        if session.number not in self._rides_arranged:
            await self._room.arrange_ride(self._course_id, session)
            self._rides_arranged.add(session.number)
        missed = session.number in self._persona.missed_sessions
        # A patient who does not come is reported as a no-show once the hour has gone by.
        due = session.scheduled_at + (NO_SHOW_AFTER if missed else timedelta(0))
        if status.clock.to_protocol(await self._now()) < due:
            await self._wait_until(status, due)
            return Step.WAITED
        if missed:
            path = f"/v1/courses/{self._course_id}/sessions/{session.number}/outcome"
            await self._api.act("POST", path, {"outcome": "missed", "note": "did not come"})
            self._played.add(session.number)
            return Step.TOLD
        dose = self._persona.dose_mg if status.sessions_done else 56
        desaturates = session.number == self._persona.desaturates_at_session
        await self._room.attend(
            self._course_id, session, status.clock, dose, desaturates=desaturates
        )
        self._played.add(session.number)
        await self._report_phq9(self._persona.phq9_after(session.number))
        return Step.TOLD

    async def _report_phq9(self, total: int) -> None:
        await self._api.act(
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


def _why(err: Exception) -> str:
    if isinstance(err, WorkflowUpdateFailedError):
        cause = err.cause
        return f"refused: {cause.message if isinstance(cause, FailureError) else cause}"
    if isinstance(err, RPCError):
        return f"Temporal: {err.message} ({err.status.name})"
    return str(err)
