"""Registering a course's patient (their contact details go to Postgres, the only place kept)
and pinning the course's protocol."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from domain.protocol import Protocol
from domain.records import PatientRegistration
from store import patients

log = structlog.get_logger(__name__)


class PatientRegistry:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="register_patient")
    async def register_patient(self, registration: PatientRegistration) -> Protocol:
        """Returns the protocol the course pinned: its clinic's current version."""
        protocol = await patients.register(self._pool, registration)
        log.info(
            "patient_registered",
            patient_ref=registration.patient_ref,
            protocol_version=protocol.version,
        )
        return protocol
