"""A course's FHIR export for one caller, as the API and the CLI both give it: the record from
PostgreSQL, the phase and scores from the course's `status`, and the patient's PHI only for a
caller whose roles grant `read_phi`."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from domain.access import Identity, Permission
from domain.course import CourseStatus
from domain.fhir import course_bundle
from store import patients
from store.charts import course_chart

FHIR_PATH = "/fhir/r4b"


class NotRegisteredError(LookupError):
    """The course has not registered its patient yet: it has no record to export."""


async def course_export(
    pool: asyncpg.Pool,
    who: Identity,
    status: CourseStatus,
    *,
    base: str,
    at: datetime,
) -> Bundle:
    """The course's Bundle as `who` may see it (the caller checked the clinic)."""
    chart = await course_chart(pool, status.course_id)
    if chart is None:
        raise NotRegisteredError(f"course {status.course_id} has not registered its patient yet")
    contact = await patients.contact(pool, chart.patient_ref) if shows_phi(who) else None
    return course_bundle(chart, status, base=base, at=at, contact=contact)


def shows_phi(who: Identity) -> bool:
    return who.may(Permission.READ_PHI)


def fhir_json(resource: Resource) -> str:
    """FHIR's JSON: its own field names, nothing empty."""
    return resource.model_dump_json()
