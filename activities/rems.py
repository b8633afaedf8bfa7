"""The REMS Patient Monitoring Form: assembled from the record, stored once, submitted."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.adapters.errors import ProviderRejected, ProviderUnavailable, retryable
from activities.adapters.ports import RemsPortal
from domain.records import RemsFormRequest, RemsSubmission, RemsSubmissionStatus
from domain.rems import RemsMonitoringForm, assemble_form
from store import doses, observations, patients, rems, sessions
from store.rems import FormStatus

log = structlog.get_logger(__name__)


class RemsForms:
    def __init__(self, pool: asyncpg.Pool, portal: RemsPortal) -> None:
        self._pool = pool
        self._portal = portal

    @activity.defn(name="submit_rems_form")
    async def submit_rems_form(self, request: RemsFormRequest) -> RemsSubmission:
        stored = await rems.store_form(self._pool, await self._assemble(request), request.due_at)
        form_id = stored.form.form_id
        filed = log.bind(form_id=form_id)
        if stored.status is FormStatus.SUBMITTED:
            filed.info("rems_form_submitted_already", submission_id=stored.submission_id)
            return RemsSubmission(
                form_id=form_id,
                status=RemsSubmissionStatus.SUBMITTED,
                submission_id=stored.submission_id,
            )
        if stored.status is FormStatus.FAILED:
            return RemsSubmission(
                form_id=form_id, status=RemsSubmissionStatus.FAILED, error=stored.error
            )
        try:
            submission_id = await self._portal.submit(stored.form)
        except ProviderRejected as err:
            await rems.record_failure(self._pool, form_id, error=err.summary, permanent=True)
            filed.warning("rems_form_refused", error=err.summary)
            return RemsSubmission(
                form_id=form_id, status=RemsSubmissionStatus.FAILED, error=err.summary
            )
        except ProviderUnavailable as err:
            await rems.record_failure(self._pool, form_id, error=err.summary, permanent=False)
            filed.warning("rems_portal_unavailable_retrying", error=err.summary)
            raise retryable(err) from err
        # The portal takes the form id as its Idempotency-Key, so a crash before this write
        # and the retry that follows should not file the form twice.
        await rems.mark_submitted(self._pool, form_id, submission_id)
        filed.info("rems_form_submitted", submission_id=submission_id)
        return RemsSubmission(
            form_id=form_id, status=RemsSubmissionStatus.SUBMITTED, submission_id=submission_id
        )

    async def _assemble(self, request: RemsFormRequest) -> RemsMonitoringForm:
        course = await patients.course(self._pool, request.course_id)
        dose = await doses.dose(self._pool, request.course_id, request.session)
        discharge = await sessions.discharge_record(self._pool, request.course_id, request.session)
        if course is None or dose is None or discharge is None:
            raise ApplicationError(
                "the session has no recorded dose and discharge: no REMS form to file",
                type="RemsRecordIncomplete",
                non_retryable=True,
            )
        checkpoints = await observations.session_checkpoints(
            self._pool, request.course_id, request.session
        )
        return assemble_form(
            course_id=course.course_id,
            patient_ref=course.patient_ref,
            clinic_id=course.clinic_id,
            clinic_timezone=course.clinic_timezone,
            session=request.session,
            administration=dose,
            discharged_at=discharge.at,
            concomitant_medications=discharge.concomitant_medications,
            respiratory_depression=discharge.respiratory_depression,
            checkpoints=checkpoints,
        )
