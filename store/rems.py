"""REMS Patient Monitoring Forms: stored once per session, then submitted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.rems import RemsMonitoringForm
from store.db import Executor


class FormStatus(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    FAILED = "failed"


@dataclass(frozen=True)
class StoredForm:
    form: RemsMonitoringForm
    """As first stored: a retry submits the same form."""
    status: FormStatus
    submission_id: str | None
    error: str | None


async def store_form(db: Executor, form: RemsMonitoringForm, due_at: datetime) -> StoredForm:
    """Store the form unless stored already; a pending form counts one more attempt."""
    row = await db.fetchrow(
        """
        INSERT INTO rems_forms (form_id, course_id, session, payload, due_at, attempts)
        VALUES ($1, $2, $3, $4, $5, 1)
        ON CONFLICT (form_id) DO UPDATE SET
            attempts = rems_forms.attempts + (rems_forms.status = 'pending')::int
        RETURNING payload, status, submission_id, error
        """,
        form.form_id,
        form.course_id,
        form.session,
        form.model_dump(mode="json"),
        due_at,
    )
    assert row is not None  # INSERT ... ON CONFLICT DO UPDATE always returns the row
    return StoredForm(
        form=RemsMonitoringForm.model_validate(row["payload"]),
        status=FormStatus(row["status"]),
        submission_id=row["submission_id"],
        error=row["error"],
    )


async def mark_submitted(db: Executor, form_id: str, submission_id: str) -> None:
    await db.execute(
        """
        UPDATE rems_forms
        SET status = 'submitted', submission_id = $2, submitted_at = now(), error = NULL
        WHERE form_id = $1 AND status = 'pending'
        """,
        form_id,
        submission_id,
    )


async def record_failure(db: Executor, form_id: str, *, error: str, permanent: bool) -> None:
    """A permanent refusal closes the form as failed (staff resubmit); a transient one leaves
    it pending for the next attempt."""
    await db.execute(
        """
        UPDATE rems_forms
        SET status = CASE WHEN $3 THEN 'failed' ELSE status END, error = $2
        WHERE form_id = $1 AND status = 'pending'
        """,
        form_id,
        error,
        permanent,
    )
