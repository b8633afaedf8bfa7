"""Who is acting through the command line, and on what: a clinic event sent from the CLI is the
act of the person its token (`TRDFLOW_TOKEN`) names, within that token's roles and clinics, and
audited as theirs, exactly as through the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from cli.errors import INVALID_INPUT, CliError
from domain.access import Identity, Permission
from domain.contract import course_workflow_id, session_workflow_id
from store import escalations, patients, tokens
from store.db import Executor
from worker.settings import Settings

ACTOR_FIELDS = ("by", "reported_by", "requested_by", "clinician")
"""The fields by which a message names who sent it: the caller, always."""

NOT_PERMITTED = 3


@dataclass(frozen=True)
class Target:
    """The workflow a CLI event goes to, what the caller needs to send it, and what it is of."""

    workflow_id: str
    permission: Permission
    course_id: str | None = None
    escalation_id: str | None = None

    async def clinic(self, db: Executor) -> tuple[str, str | None] | None:
        """The clinic it belongs to, and its course; None for no such course or escalation."""
        if self.escalation_id is not None:
            row = await escalations.get(db, self.escalation_id)
            return None if row is None else (row.clinic_id, row.course_id)
        assert self.course_id is not None
        clinic_id = await patients.clinic_of(db, self.course_id)
        return None if clinic_id is None else (clinic_id, self.course_id)


def on_course(course_id: str, permission: Permission) -> Target:
    return Target(course_workflow_id(course_id), permission, course_id=course_id)


def on_session(course_id: str, n: int) -> Target:
    return Target(session_workflow_id(course_id, n), Permission.ACT_IN_ROOM, course_id=course_id)


def on_escalation(escalation_id: str) -> Target:
    return Target(escalation_id, Permission.HANDLE_ESCALATIONS, escalation_id=escalation_id)


async def caller(db: Executor, settings: Settings, permission: Permission) -> Identity:
    """The token's holder, if it may do this."""
    if settings.cli_token is None:
        raise CliError(
            "set TRDFLOW_TOKEN to your token (`trdflow tokens issue`): "
            "clinic events are sent as its holder",
            NOT_PERMITTED,
        )
    found = await tokens.identify(db, settings.cli_token.get_secret_value())
    if found is None:
        raise CliError("TRDFLOW_TOKEN is not a live token", NOT_PERMITTED)
    who = found[1]
    if not who.may(permission):
        raise CliError(f"none of {who.actor}'s roles may {permission}", NOT_PERMITTED)
    return who


def as_caller(
    model: type[BaseModel], fields: Mapping[str, Any], who: Identity | None
) -> dict[str, Any]:
    """`fields` with the caller in each actor field the message has; one naming someone else
    is refused (a person acts as themselves only). Without `who` yet, a stand-in, so that the
    rest of the message can be checked first."""
    named = dict(fields)
    for field in ACTOR_FIELDS:
        if field not in model.model_fields:
            continue
        if who is None:
            named[field] = named.get(field) or "caller"
            continue
        if named.get(field) not in (None, who.actor):
            option = field.replace("_", "-")
            raise CliError(f"--{option} must be you ({who.actor})", INVALID_INPUT)
        named[field] = who.actor
    return named


def sent_by_caller(message: BaseModel, who: Identity) -> None:
    """A message from `--file` names its sender itself: it must be the caller."""
    for field in ACTOR_FIELDS:
        if getattr(message, field, who.actor) != who.actor:
            raise CliError(f"the file's {field} must be you ({who.actor})", INVALID_INPUT)
