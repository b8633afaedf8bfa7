"""The API's own request and answer models, and its path parameters.

In-room requests leave out who acted: that is the signed-in caller, so the server builds the
domain message from the body plus the token's actor (and the domain re-checks it all).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from api.errors import build
from domain.clock import ClinicalTime
from domain.contract import MAX_SESSIONS
from domain.course import REF_PATTERN
from domain.protocol import LABEL_MAX_DEVICES
from domain.session import (
    Administration,
    ConcomitantMedication,
    Discharge,
    HoldDecision,
    OutcomeReport,
    SessionOutcome,
)

CourseId = Annotated[
    str,
    Path(
        pattern=REF_PATTERN,
        description="The course's pseudonymous id (lower-case letters, digits, dashes).",
        examples=["c-1042"],
    ),
]
PatientRef = Annotated[
    str,
    Path(
        pattern=REF_PATTERN,
        description="The patient's pseudonymous reference.",
        examples=["p-2207"],
    ),
]
SessionNumber = Annotated[
    int,
    Path(
        ge=1,
        le=MAX_SESSIONS,
        description="The session's number in the course, from 1.",
        examples=[1],
    ),
]


class RequestBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TransportArrangement(RequestBody):
    """The ride home: the driver is sent an SMS and confirms by replying YES."""

    driver_name: str = Field(min_length=1, max_length=200, description="Kept in Postgres only.")
    driver_phone: str = Field(
        pattern=r"^\+[1-9][0-9]{6,14}$",
        description="E.164; receives the confirmation request.",
        examples=["+15551234567"],
    )


class HoldDecisionRequest(RequestBody):
    """The clinician's decision on a session held for blood pressure above 140/90."""

    proceed: bool = Field(description="True: dose now. False: delay.")
    note: str = Field(min_length=3, max_length=2000, description="The clinical reasoning.")
    reschedule_to: ClinicalTime | None = Field(
        None,
        description=(
            "With a delay only: the session's new time (protocol time, with its offset). "
            "A delay without it ends the session undosed."
        ),
    )

    def message(self, clinician: str) -> HoldDecision:
        return build(HoldDecision, {**self.model_dump(), "clinician": clinician})


class AdministrationRequest(RequestBody):
    """The dose given: accepted once the session is ready to dose, with a confirmed ride."""

    dose_mg: int = Field(gt=0, description="56 or 84 mg, as the schedule allows.", examples=[56])
    lot: str = Field(
        pattern=r"^[A-Za-z0-9-]{1,40}$", description="The devices' lot.", examples=["L2024-17"]
    )
    device_times: tuple[ClinicalTime, ...] = Field(
        min_length=1,
        max_length=LABEL_MAX_DEVICES,
        description=(
            "When each device (28 mg) was used, in order, with its offset, after check-in "
            "and not in the future. Devices used closer together than the clinic protocol's "
            "`minutes_between_devices` (the label: 5) are recorded as given and alert the "
            "prescriber. Monitoring counts from when the session records the dose."
        ),
        examples=[["2026-12-01T09:20:00-05:00", "2026-12-01T09:25:00-05:00"]],
    )

    def message(self, by: str) -> Administration:
        return build(Administration, {**self.model_dump(), "by": by})


class DischargeRequest(RequestBody):
    """Discharge into the confirmed ride, after at least 2 h with acceptable vitals."""

    concomitant_medications: frozenset[ConcomitantMedication] = Field(
        frozenset(), description="For the REMS Patient Monitoring Form."
    )
    respiratory_depression: bool = Field(False, description="Observed during monitoring.")

    def message(self, by: str) -> Discharge:
        return build(Discharge, {**self.model_dump(), "by": by})


class OutcomeRequest(RequestBody):
    """A session that did not happen. An attended session ends with its discharge instead."""

    outcome: Literal[SessionOutcome.MISSED, SessionOutcome.CANCELLED]
    note: str | None = Field(None, max_length=2000)

    def message(self, reported_by: str) -> OutcomeReport:
        return build(OutcomeReport, {**self.model_dump(), "reported_by": reported_by})


class CourseCreated(BaseModel):
    course_id: str
    workflow_id: str = Field(examples=["course-c-1042"])
    run_id: str | None


class ReadingAccepted(BaseModel):
    """The reading is stored in Postgres and the session workflow is told of it."""

    reading_id: int
    workflow_id: str = Field(examples=["course-c-1042-session-1"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"
