"""Patients' contact details: never overwritten by a course's registration, changed only by
their own audited action, by a caller of one of the patient's clinics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from cli.localstack import new_course_id
from cli.simulation import PERSONAS, demo_course
from domain.access import Identity, Kind, Role
from domain.course import CourseStart, PatientContact
from domain.protocol import Indication
from domain.records import PatientRegistration
from store import patients, tokens
from tests.sessions import GATEWAY, NURSE

OTHER_PHONE = "+15550100123"


def course(label: str) -> CourseStart:
    return demo_course(new_course_id(label), PERSONAS["responder"], 1.0)


def contact_body(start: CourseStart, **changes: Any) -> dict[str, Any]:
    return start.patient.model_copy(update=changes).model_dump(mode="json")


async def ehr_of(pool: asyncpg.Pool, clinic: str) -> dict[str, str]:
    who = Identity(
        actor=f"ehr-{clinic}", kind=Kind.SYSTEM, roles=frozenset({Role.EHR}),
        clinics=frozenset({clinic}),
    )  # fmt: skip
    issued = await tokens.issue(pool, who, timedelta(days=1), "tests")
    return {"Authorization": f"Bearer {issued.token}"}


async def test_a_course_for_a_known_patient_with_other_contacts_is_refused(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    first = course("patient-first")
    same_patient = course("patient-again").model_copy(update={"patient_ref": first.patient_ref})
    hijack = course("patient-hijack").model_copy(
        update={
            "patient_ref": first.patient_ref,
            "patient": first.patient.model_copy(update={"phone": OTHER_PHONE}),
        }
    )

    started = await api.post("/v1/courses", json=first.model_dump(mode="json"), headers=GATEWAY)
    await patients.register(db_pool, registration_of(first))  # as the course's first activity
    again = await api.post(
        "/v1/courses", json=same_patient.model_dump(mode="json"), headers=GATEWAY
    )
    refused = await api.post("/v1/courses", json=hijack.model_dump(mode="json"), headers=GATEWAY)

    assert (started.status_code, again.status_code, refused.status_code) == (201, 201, 409)
    assert "other contact details" in refused.json()["detail"]
    assert OTHER_PHONE not in refused.text
    assert await patients.contact(db_pool, first.patient_ref) == first.patient
    claimed = "SELECT count(*) FROM course_clinics WHERE course_id = $1"
    assert await db_pool.fetchval(claimed, hijack.course_id) == 0


async def test_a_registration_with_other_contacts_keeps_the_recorded_ones_and_says_so(
    db_pool: asyncpg.Pool,
) -> None:
    first = course("reg-first")
    other = course("reg-other").model_copy(
        update={
            "patient_ref": first.patient_ref,
            "patient": first.patient.model_copy(update={"phone": OTHER_PHONE}),
        }
    )

    await patients.register(db_pool, registration_of(first))
    await patients.register(db_pool, registration_of(other))  # e.g. started past the API

    assert await patients.contact_for_course(db_pool, other.course_id) == first.patient
    kept = await db_pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE course_id = $1"
        " AND action = 'patient.registration_contact_kept'",
        other.course_id,
    )
    assert kept == 1


async def test_a_change_of_contact_is_its_own_audited_action_within_the_clinic(
    api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    start = course("contact-change")
    await patients.register(db_pool, registration_of(start))
    url = f"/v1/patients/{start.patient_ref}/contact"
    changed = contact_body(start, phone=OTHER_PHONE)

    by_outsider = await api.put(url, json=changed, headers=await ehr_of(db_pool, "elsewhere"))
    by_nurse = await api.put(url, json=changed, headers=NURSE)
    invalid = await api.put(url, json=contact_body(start, phone="555-JANE"), headers=GATEWAY)
    unknown = await api.put("/v1/patients/p-nobody/contact", json=changed, headers=GATEWAY)
    assert await patients.contact(db_pool, start.patient_ref) == start.patient
    done = await api.put(url, json=changed, headers=await ehr_of(db_pool, start.clinic_id))

    assert (by_outsider.status_code, unknown.status_code) == (404, 404)
    assert by_outsider.json() == {"detail": f"no patient {start.patient_ref}"}
    assert (by_nurse.status_code, invalid.status_code, done.status_code) == (403, 422, 204)
    assert "555-JANE" not in invalid.text
    recorded = await patients.contact(db_pool, start.patient_ref)
    assert recorded == PatientContact.model_validate(changed)
    rows = await db_pool.fetch(
        "SELECT actor, actor_kind, clinic_id, details FROM audit_log"
        " WHERE action = 'patient.contact_changed' AND actor = $1",
        f"ehr-{start.clinic_id}",
    )
    assert [dict(row) for row in rows][-1] == {
        "actor": f"ehr-{start.clinic_id}",
        "actor_kind": "system",
        "clinic_id": start.clinic_id,
        "details": {"fields": ["phone"]},
    }


def registration_of(start: CourseStart) -> PatientRegistration:
    return PatientRegistration(
        course_id=start.course_id,
        patient_ref=start.patient_ref,
        clinic_id=start.clinic_id,
        clinic_timezone=start.clinic_timezone,
        indication=Indication.TRD,
        protocol_version="test",
        patient=start.patient,
    )


pytestmark = pytest.mark.usefixtures("worker")
