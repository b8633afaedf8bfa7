"""FHIR R4B reads: a course as a Bundle, its CarePlan, and a patient.

The patient is pseudonymous (their ref) unless the caller's roles grant `read_phi`; every read
is audited with whether it showed PHI.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan

from api.audit import audited
from api.auth import OnCourse, ReadsCourse, require
from api.context import Ctx
from api.errors import responses
from api.fhir_export import FHIR_PATH, NotRegisteredError, course_export, fhir_json, shows_phi
from api.messaging import query
from api.models import PatientRef
from domain.access import Identity, Permission
from domain.contract import course_workflow_id
from domain.fhir import FHIR_JSON, patient
from store import patients
from workflows.course import TreatmentCourse

router = APIRouter(prefix=FHIR_PATH, tags=["fhir"])

ReadsCourses = Annotated[Identity, Depends(require(Permission.READ_COURSE))]
_OK: dict[int | str, dict[str, Any]] = {
    200: {"content": {FHIR_JSON: {}}, "description": "A FHIR R4B resource (JSON)."}
}


class FhirResponse(Response):
    media_type = FHIR_JSON


@router.get(
    "/CarePlan/{course_id}/$everything",
    response_class=FhirResponse,
    summary="A course as a FHIR R4B Bundle",
    description=(
        "Everything about the course as a `collection` Bundle: Patient, CarePlan with its "
        "activities, an Appointment per session, an Observation per reading's sign (the BP "
        "panel 85354-9 with its components, heart rate, SpO2) and per PHQ-9 score (44261-6, "
        "item 9 as a component), the Medication and a MedicationAdministration per dose (route "
        "nasal), a Flag and a DetectedIssue per escalation, and a CommunicationRequest per "
        "reminder. Names, birth dates, contacts and free texts only for a role with "
        "`read_phi`."
    ),
    responses={**_OK, **responses(401, 403, 404, 422, 503)},
)
async def everything(ctx: Ctx, caller: ReadsCourse, request: Request) -> FhirResponse:
    bundle = await _course_bundle(ctx, caller, request, "fhir.course_read")
    return FhirResponse(fhir_json(bundle))


@router.get(
    "/CarePlan/{course_id}",
    response_class=FhirResponse,
    summary="A course's FHIR R4B CarePlan",
    description="The course as a CarePlan: its phase, sessions and reminders as activities.",
    responses={**_OK, **responses(401, 403, 404, 422, 503)},
)
async def care_plan(ctx: Ctx, caller: ReadsCourse, request: Request) -> FhirResponse:
    bundle = await _course_bundle(ctx, caller, request, "fhir.care_plan_read")
    (plan,) = [e.resource for e in bundle.entry or () if isinstance(e.resource, CarePlan)]
    return FhirResponse(fhir_json(plan))


@router.get(
    "/Patient/{patient_ref}",
    response_class=FhirResponse,
    summary="A patient as a FHIR R4B Patient",
    description=(
        "A patient on a course of one of the caller's clinics: pseudonymous (the ref) unless "
        "the caller's roles grant `read_phi`."
    ),
    responses={**_OK, **responses(401, 403, 404, 422, 503)},
)
async def read_patient(patient_ref: PatientRef, ctx: Ctx, who: ReadsCourses) -> FhirResponse:
    clinics = sorted(
        c for c in await patients.clinics_of_patient(ctx.pool, patient_ref) if who.covers(c)
    )
    if not clinics:  # unknown, or only another clinic's: the same answer
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no patient {patient_ref}")
    phi = shows_phi(who)
    contact = await patients.contact(ctx.pool, patient_ref) if phi else None
    await audited(ctx.pool, who, "fhir.patient_read", None, clinics[0], phi=phi)
    return FhirResponse(fhir_json(patient(patient_ref, clinics[0], contact)))


async def _course_bundle(ctx: Ctx, caller: OnCourse, request: Request, action: str) -> Bundle:
    status_now = await query(
        ctx.client, course_workflow_id(caller.course_id), TreatmentCourse.status
    )
    base = (ctx.settings.public_url or str(request.base_url)).rstrip("/") + FHIR_PATH
    try:
        bundle = await course_export(
            ctx.pool, caller.who, status_now, base=base, at=datetime.now(UTC)
        )
    except NotRegisteredError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    phi = shows_phi(caller.who)
    await audited(ctx.pool, caller.who, action, caller.course_id, caller.clinic_id, phi=phi)
    return bundle
