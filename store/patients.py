"""Patients (the only place their PHI is kept) and the courses they are on."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from domain.access import Kind
from domain.contract import course_workflow_id
from domain.course import CourseStart, PatientContact
from domain.notices import Channel
from domain.protocol import Protocol
from domain.records import PatientRegistration
from store import protocols
from store.audit import record_audit_once
from store.db import Executor


@dataclass(frozen=True)
class CourseRecord:
    course_id: str
    patient_ref: str
    clinic_id: str
    clinic_timezone: str


async def register(pool: asyncpg.Pool, registration: PatientRegistration) -> Protocol:
    """Record the patient, unless their ref is known, and the course. A known patient's contact
    details are never overwritten here: a change is its own audited action (`change_contact`);
    a registration that brings other details keeps the recorded ones, and says so in the audit
    log. The course pins its clinic's current protocol the first time; a retry gets the
    version pinned then (S8)."""
    patient = registration.patient
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO patients (patient_ref, name, phone, email, date_of_birth, reminders_by)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (patient_ref) DO NOTHING
            """,
            registration.patient_ref,
            patient.name,
            patient.phone,
            patient.email,
            patient.date_of_birth,
            sorted(patient.reminders_by),
        )
        if await contact(conn, registration.patient_ref) != patient:
            await record_audit_once(
                conn,
                f"registration-contact-kept/{registration.course_id}",
                actor="system",
                action="patient.registration_contact_kept",
                course_id=registration.course_id,
                details={},
                actor_kind=Kind.SYSTEM,
                clinic_id=registration.clinic_id,
            )
        pinned_version = await conn.fetchval(
            """
            INSERT INTO courses
                (course_id, patient_ref, clinic_id, clinic_timezone, indication, protocol_version)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (course_id) DO UPDATE SET
                patient_ref = EXCLUDED.patient_ref, clinic_id = EXCLUDED.clinic_id,
                clinic_timezone = EXCLUDED.clinic_timezone, indication = EXCLUDED.indication
            RETURNING protocol_version
            """,
            registration.course_id,
            registration.patient_ref,
            registration.clinic_id,
            registration.clinic_timezone,
            registration.indication,
            await protocols.current_version(conn, registration.clinic_id),
        )
        # A course started through Temporal itself, not the API, is claimed here.
        await claim_course(conn, registration.course_id, registration.clinic_id)
        return await protocols.pinned(conn, registration.clinic_id, pinned_version)


async def claim_course(db: Executor, course_id: str, clinic_id: str) -> str | None:
    """Record the clinic a course belongs to, unless it has one: the clinic it belongs to
    (None while a concurrent claim of the same id is not yet visible)."""
    owner: str | None = await db.fetchval(
        """
        WITH claimed AS (
            INSERT INTO course_clinics (course_id, clinic_id) VALUES ($1, $2)
            ON CONFLICT (course_id) DO NOTHING RETURNING clinic_id
        )
        SELECT clinic_id FROM claimed
        UNION ALL SELECT clinic_id FROM course_clinics WHERE course_id = $1
        LIMIT 1
        """,
        course_id,
        clinic_id,
    )
    return owner


async def admit(db: Executor, start: CourseStart) -> str | None:
    """Before a course starts, whoever starts it: None when it may (its clinic is claimed now),
    else why not. A known patient with other contact details is refused, never overwritten:
    another course's reminders would reach the new number. A change is its own action."""
    recorded = await contact(db, start.patient_ref)
    if recorded is not None and recorded != start.patient:
        return (
            f"patient {start.patient_ref} is registered with other contact details: "
            f"change them with PUT /v1/patients/{start.patient_ref}/contact first"
        )
    if await claim_course(db, start.course_id, start.clinic_id) != start.clinic_id:
        return STARTED_ONCE.format(workflow_id=course_workflow_id(start.course_id))
    return None


STARTED_ONCE = "{workflow_id} already exists: a course id is started only once"


async def clinic_of(db: Executor, course_id: str) -> str | None:
    """The clinic a course belongs to; None for a course id no one has started."""
    clinic: str | None = await db.fetchval(
        "SELECT clinic_id FROM course_clinics WHERE course_id = $1", course_id
    )
    return clinic


async def contact(db: Executor, patient_ref: str) -> PatientContact | None:
    """The patient's recorded contact details, if the ref is known."""
    row = await db.fetchrow(
        f"SELECT {_CONTACT} FROM patients p WHERE p.patient_ref = $1", patient_ref
    )
    return None if row is None else _contact(row)


async def change_contact(db: Executor, patient_ref: str, new: PatientContact) -> list[str]:
    """Replace a known patient's contact details: the names of the fields that changed."""
    old = await contact(db, patient_ref)
    if old is None:
        raise LookupError(f"no patient {patient_ref}")
    changed = [
        field for field in PatientContact.model_fields if getattr(old, field) != getattr(new, field)
    ]
    await db.execute(
        """
        UPDATE patients SET name = $2, phone = $3, email = $4, date_of_birth = $5,
                            reminders_by = $6, updated_at = now()
        WHERE patient_ref = $1
        """,
        patient_ref,
        new.name,
        new.phone,
        new.email,
        new.date_of_birth,
        sorted(new.reminders_by),
    )
    return changed


async def clinics_of_patient(db: Executor, patient_ref: str) -> set[str]:
    """The clinics whose courses the patient is on."""
    rows = await db.fetch(
        "SELECT DISTINCT clinic_id FROM courses WHERE patient_ref = $1", patient_ref
    )
    return {row["clinic_id"] for row in rows}


_CONTACT = "p.name, p.phone, p.email, p.date_of_birth, p.reminders_by"


def _contact(row: asyncpg.Record) -> PatientContact:
    return PatientContact(
        name=row["name"],
        phone=row["phone"],
        email=row["email"],
        date_of_birth=row["date_of_birth"],
        reminders_by=frozenset(Channel(c) for c in row["reminders_by"]),
    )


async def contact_for_course(db: Executor, course_id: str) -> PatientContact | None:
    row = await db.fetchrow(
        f"""
        SELECT {_CONTACT}
        FROM courses c JOIN patients p USING (patient_ref)
        WHERE c.course_id = $1
        """,
        course_id,
    )
    return None if row is None else _contact(row)


async def course(db: Executor, course_id: str) -> CourseRecord | None:
    row = await db.fetchrow(
        "SELECT course_id, patient_ref, clinic_id, clinic_timezone FROM courses "
        "WHERE course_id = $1",
        course_id,
    )
    return None if row is None else CourseRecord(**dict(row))
