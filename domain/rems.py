"""The REMS Patient Monitoring Form, assembled from a session's record (a pure function)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.observations import CheckpointVitals
from domain.protocol import LABEL_MIN_MONITORING_MINUTES
from domain.session import Administration, ConcomitantMedication
from domain.session_core import Checkpoint
from domain.vitals import AWAKE_MOAAS

REMS_MIN_MONITORING = timedelta(minutes=LABEL_MIN_MONITORING_MINUTES)


def form_id(course_id: str, session: int) -> str:
    """One form per session, so a retried submission finds the form it stored."""
    return f"course-{course_id}/session-{session}/rems-monitoring"


class BloodPressure(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    systolic: int
    diastolic: int
    taken_at: AwareDatetime


class RemsMonitoringForm(BaseModel):
    """The form's fields (shared/DESIGN.md, "Each session"). Carries no PHI: the patient is
    identified by the pseudonymous patient_ref."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    form_id: str
    course_id: str
    patient_ref: str
    clinic_id: str
    session: int
    treatment_date: date
    """In the clinic's time zone."""
    dose_mg: int
    devices: int
    lot: str
    first_device_at: AwareDatetime
    monitoring_ended_at: AwareDatetime
    total_monitoring_minutes: int
    """From the first device to the end of monitoring (discharge)."""
    monitored_at_least_2h: bool
    ready_to_leave_at: AwareDatetime | None
    """At least 2 h after the first device, and once vitals stayed acceptable to the end;
    None when the last checkpoint was not acceptable."""
    vitals_acceptable_before_dosing: bool
    vitals_acceptable_before_completion: bool
    bp_before_dosing: BloodPressure | None
    bp_at_40_min: BloodPressure | None
    bp_before_completion: BloodPressure | None
    sedation: bool
    lowest_moaas: int | None
    dissociation: bool
    highest_cadss: int | None
    respiratory_depression: bool
    concomitant_medications: tuple[ConcomitantMedication, ...]


def assemble_form(
    *,
    course_id: str,
    patient_ref: str,
    clinic_id: str,
    clinic_timezone: str,
    session: int,
    administration: Administration,
    discharged_at: AwareDatetime,
    concomitant_medications: Collection[ConcomitantMedication],
    respiratory_depression: bool,
    checkpoints: Sequence[CheckpointVitals],
) -> RemsMonitoringForm:
    """The form from the session's record: its dose, its discharge (with the medications and
    respiratory depression noted then) and its vitals checkpoints."""
    first_device = administration.first_device_at
    by_time = sorted(checkpoints, key=lambda c: c.taken_at)
    named = {c.checkpoint: c for c in by_time}
    # A session delayed and checked in again has pre_dose-2, ...: the last before dosing counts.
    pre_doses = [
        c
        for c in by_time
        if Checkpoint.kind(c.checkpoint) == Checkpoint.PRE_DOSE and c.taken_at <= first_device
    ]
    pre_dose = pre_doses[-1] if pre_doses else None
    monitoring = [c for c in by_time if first_device <= c.taken_at <= discharged_at]
    last = monitoring[-1] if monitoring else None
    moaas = [c.moaas for c in monitoring if c.moaas is not None]
    cadss = [c.cadss for c in monitoring if c.cadss is not None]
    duration = discharged_at - first_device
    return RemsMonitoringForm(
        form_id=form_id(course_id, session),
        course_id=course_id,
        patient_ref=patient_ref,
        clinic_id=clinic_id,
        session=session,
        treatment_date=first_device.astimezone(ZoneInfo(clinic_timezone)).date(),
        dose_mg=administration.dose_mg,
        devices=administration.devices,
        lot=administration.lot,
        first_device_at=first_device,
        monitoring_ended_at=discharged_at,
        total_monitoring_minutes=duration // timedelta(minutes=1),
        monitored_at_least_2h=duration >= REMS_MIN_MONITORING,
        ready_to_leave_at=_ready_to_leave(first_device, monitoring),
        vitals_acceptable_before_dosing=pre_dose is not None and pre_dose.acceptable,
        vitals_acceptable_before_completion=last is not None and last.acceptable,
        bp_before_dosing=_bp(pre_dose),
        bp_at_40_min=_bp(named.get(Checkpoint.POST_DOSE_40M)),
        bp_before_completion=_bp(_last_with_bp(monitoring)),
        sedation=any(m < AWAKE_MOAAS for m in moaas),
        lowest_moaas=min(moaas, default=None),
        dissociation=any(c > 0 for c in cadss),
        highest_cadss=max(cadss, default=None),
        respiratory_depression=respiratory_depression,
        concomitant_medications=tuple(sorted(concomitant_medications)),
    )


def _ready_to_leave(
    first_device: AwareDatetime, monitoring: Sequence[CheckpointVitals]
) -> AwareDatetime | None:
    """The later of 2 h after the first device and the start of the final run of acceptable
    checkpoints (vitals consistently at a safe level from then on)."""
    stable_since = None
    for checkpoint in reversed(monitoring):
        if not checkpoint.acceptable:
            break
        stable_since = checkpoint.taken_at
    if stable_since is None:
        return None
    return max(first_device + REMS_MIN_MONITORING, stable_since)


def _last_with_bp(checkpoints: Sequence[CheckpointVitals]) -> CheckpointVitals | None:
    return next((c for c in reversed(checkpoints) if c.systolic is not None), None)


def _bp(checkpoint: CheckpointVitals | None) -> BloodPressure | None:
    if checkpoint is None or checkpoint.systolic is None or checkpoint.diastolic is None:
        return None
    return BloodPressure(
        systolic=checkpoint.systolic, diastolic=checkpoint.diastolic, taken_at=checkpoint.taken_at
    )
