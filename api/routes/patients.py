"""Patients: their contact details change only by this audited action, never by a course's
registration."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.audit import audited
from api.auth import ChangesContacts
from api.context import Ctx
from api.errors import responses
from api.models import PatientRef
from domain.course import PatientContact
from store import patients

router = APIRouter(prefix="/v1/patients", tags=["patients"])


@router.put(
    "/{patient_ref}/contact",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change a patient's contact details",
    description=(
        "Replaces the name, phone, e-mail, date of birth and reminder channels of a patient "
        "on a course of one of the caller's clinics; every course of the patient uses them "
        "from then on. Audited with the fields that changed (never their values)."
    ),
    responses=responses(401, 403, 404, 422, 503),
)
async def change_contact(
    patient_ref: PatientRef, body: PatientContact, ctx: Ctx, who: ChangesContacts
) -> None:
    async with ctx.pool.acquire() as conn, conn.transaction():
        clinics = sorted(
            c for c in await patients.clinics_of_patient(conn, patient_ref) if who.covers(c)
        )
        if not clinics:  # unknown, or only another clinic's: the same answer
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no patient {patient_ref}")
        changed = await patients.change_contact(conn, patient_ref, body)
        await audited(conn, who, "patient.contact_changed", None, clinics[0], fields=changed)
