"""Who may do what: callers' kinds and roles, what each role grants, and clinic scopes.

Every caller is a person (clinic staff, backend operators) or a system (EHR, scheduler, device
gateway), scoped to one or more clinics. A role grants permissions; a scope says which clinics'
courses, sessions and escalations the caller may see or change. Webhooks are not callers: they
prove themselves by their provider's signature.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.course import REF_PATTERN


class Kind(StrEnum):
    PERSON = "person"
    SYSTEM = "system"


class Role(StrEnum):
    # People
    NURSE = "nurse"
    PSYCHIATRIST = "psychiatrist"
    MEDICAL_DIRECTOR = "medical_director"
    CLINIC_ADMIN = "clinic_admin"
    OPERATOR = "operator"
    """A backend operator: reads courses and decodes payloads in the Temporal UI."""
    # Systems
    EHR = "ehr"
    SCHEDULER = "scheduler"
    DEVICE_GATEWAY = "device_gateway"


ROLES_OF_KIND: dict[Kind, frozenset[Role]] = {
    Kind.PERSON: frozenset(
        {Role.NURSE, Role.PSYCHIATRIST, Role.MEDICAL_DIRECTOR, Role.CLINIC_ADMIN, Role.OPERATOR}
    ),
    Kind.SYSTEM: frozenset({Role.EHR, Role.SCHEDULER, Role.DEVICE_GATEWAY}),
}


class Permission(StrEnum):
    START_COURSE = "start_course"
    READ_COURSE = "read_course"
    REPORT_SCORE = "report_score"
    SUBMIT_VITALS = "submit_vitals"
    ACT_IN_ROOM = "act_in_room"
    """Check-in, transport, hold decisions, dosing, discharge, outcomes."""
    DECIDE_COURSE = "decide_course"
    """The course's clinical decisions: assessment, reviews, frequency, pauses, discontinuation,
    rescheduling, relapse."""
    HANDLE_ESCALATIONS = "handle_escalations"
    """The on-call console: see, acknowledge and resolve escalations."""
    CHANGE_CONTACT = "change_contact"
    READ_PHI = "read_phi"
    """A patient's name, date of birth and contacts in what the caller reads (FHIR): those
    who treat the patient, keep their details, or are their record's system."""
    DECODE_PAYLOADS = "decode_payloads"


_CLINICIAN = frozenset(
    {
        Permission.READ_COURSE,
        Permission.REPORT_SCORE,
        Permission.SUBMIT_VITALS,
        Permission.ACT_IN_ROOM,
        Permission.DECIDE_COURSE,
        Permission.HANDLE_ESCALATIONS,
        Permission.READ_PHI,
    }
)

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.NURSE: _CLINICIAN,
    Role.PSYCHIATRIST: _CLINICIAN,
    Role.MEDICAL_DIRECTOR: _CLINICIAN,
    Role.CLINIC_ADMIN: frozenset(
        {Permission.READ_COURSE, Permission.CHANGE_CONTACT, Permission.READ_PHI}
    ),
    Role.OPERATOR: frozenset({Permission.READ_COURSE, Permission.DECODE_PAYLOADS}),
    Role.EHR: frozenset(
        {
            Permission.START_COURSE,
            Permission.READ_COURSE,
            Permission.REPORT_SCORE,
            Permission.CHANGE_CONTACT,
            Permission.READ_PHI,
        }
    ),
    Role.SCHEDULER: frozenset({Permission.START_COURSE, Permission.READ_COURSE}),
    Role.DEVICE_GATEWAY: frozenset({Permission.SUBMIT_VITALS}),
}

EVERY_CLINIC = "*"
"""A scope of every clinic, for operators and network-wide systems; alone in its scope."""

ClinicScope = Annotated[str, StringConstraints(pattern=rf"{REF_PATTERN}|^\*$")]
ActorName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,119}$")]


class Identity(BaseModel):
    """A signed-in caller: who, what kind, which roles, which clinics."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    actor: ActorName
    kind: Kind
    roles: frozenset[Role] = Field(min_length=1)
    clinics: frozenset[ClinicScope] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        foreign = self.roles - ROLES_OF_KIND[self.kind]
        if foreign:
            names = ", ".join(sorted(foreign))
            raise ValueError(f"a {self.kind} cannot hold the role(s) {names}")
        if EVERY_CLINIC in self.clinics and len(self.clinics) > 1:
            raise ValueError(f"{EVERY_CLINIC!r} (every clinic) stands alone in a scope")
        return self

    @property
    def permissions(self) -> frozenset[Permission]:
        return frozenset().union(*(GRANTS[role] for role in self.roles))

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions

    def covers(self, clinic_id: str) -> bool:
        return EVERY_CLINIC in self.clinics or clinic_id in self.clinics

    @property
    def clinic_filter(self) -> list[str] | None:
        """The clinics to list, for SQL: None for every clinic."""
        return None if EVERY_CLINIC in self.clinics else sorted(self.clinics)


Door = Literal["api", "console", "cli", "codec"]
"""Where an audited action came in."""
