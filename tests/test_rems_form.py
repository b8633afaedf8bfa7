"""The REMS Patient Monitoring Form, assembled from a session's record (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.conditions import Level
from domain.observations import CheckpointVitals
from domain.rems import RemsMonitoringForm, assemble_form
from domain.session import Administration, ConcomitantMedication

FIRST_DEVICE = datetime(2026, 3, 4, 3, 30, tzinfo=UTC)  # 22:30 on the 3rd in New York
DEVICE_TIMES = tuple(FIRST_DEVICE + timedelta(minutes=5 * i) for i in range(3))


def at(minutes: int) -> datetime:
    return FIRST_DEVICE + timedelta(minutes=minutes)


def vitals(
    checkpoint: str, minutes: int, level: Level = Level.NORMAL, **signs: int
) -> CheckpointVitals:
    return CheckpointVitals(checkpoint=checkpoint, taken_at=at(minutes), level=level, **signs)


NORMAL_SESSION = (
    vitals("pre_dose", -15, systolic=128, diastolic=82, moaas=5, cadss=0),
    vitals("post_dose_40m", 40, systolic=136, diastolic=86, moaas=4, cadss=6),
    vitals("post_dose_90m", 90, systolic=130, diastolic=84, moaas=5, cadss=1),
    vitals("pre_discharge", 118, systolic=124, diastolic=80, moaas=5, cadss=0),
)


def form(
    checkpoints: tuple[CheckpointVitals, ...] = NORMAL_SESSION,
    discharged_minutes: int = 125,
    medications: frozenset[ConcomitantMedication] = frozenset(),
) -> RemsMonitoringForm:
    return assemble_form(
        course_id="c-1",
        patient_ref="p-1",
        clinic_id="clinic-1",
        clinic_timezone="America/New_York",
        session=3,
        administration=Administration(
            dose_mg=84, lot="LOT-9", device_times=DEVICE_TIMES, by="nurse-1"
        ),
        discharged_at=at(discharged_minutes),
        concomitant_medications=medications,
        respiratory_depression=False,
        checkpoints=checkpoints,
    )


def test_the_form_has_every_field_the_rems_asks_for() -> None:
    assembled = form(
        medications=frozenset(
            {ConcomitantMedication.OPIOIDS, ConcomitantMedication.BENZODIAZEPINES}
        )
    )

    assert assembled.model_dump() == {
        "form_id": "course-c-1/session-3/rems-monitoring",
        "course_id": "c-1",
        "patient_ref": "p-1",
        "clinic_id": "clinic-1",
        "session": 3,
        "treatment_date": date(2026, 3, 3),  # the clinic's date, not UTC's
        "dose_mg": 84,
        "devices": 3,
        "lot": "LOT-9",
        "first_device_at": FIRST_DEVICE,
        "monitoring_ended_at": at(125),
        "total_monitoring_minutes": 125,
        "monitored_at_least_2h": True,
        "ready_to_leave_at": at(120),
        "vitals_acceptable_before_dosing": True,
        "vitals_acceptable_before_completion": True,
        "bp_before_dosing": {"systolic": 128, "diastolic": 82, "taken_at": at(-15)},
        "bp_at_40_min": {"systolic": 136, "diastolic": 86, "taken_at": at(40)},
        "bp_before_completion": {"systolic": 124, "diastolic": 80, "taken_at": at(118)},
        "sedation": True,
        "lowest_moaas": 4,
        "dissociation": True,
        "highest_cadss": 6,
        "respiratory_depression": False,
        "concomitant_medications": (
            ConcomitantMedication.BENZODIAZEPINES,
            ConcomitantMedication.OPIOIDS,
        ),
    }


def test_the_patient_is_ready_only_once_vitals_stay_acceptable() -> None:
    checkpoints = (
        *NORMAL_SESSION[:3],
        vitals("recheck_1", 115, Level.HOLD, systolic=150, diastolic=95),
        vitals("recheck_2", 130, systolic=134, diastolic=86),
        vitals("recheck_3", 145, systolic=130, diastolic=84),
    )

    assembled = form(checkpoints, discharged_minutes=150)

    assert assembled.ready_to_leave_at == at(130)
    assert assembled.vitals_acceptable_before_completion
    assert assembled.bp_before_completion is not None
    assert assembled.bp_before_completion.taken_at == at(145)


def test_a_high_pre_dose_reading_and_a_short_stay_are_reported_as_they_were() -> None:
    checkpoints = (
        vitals("pre_dose", -10, Level.HOLD, systolic=150, diastolic=92),
        vitals("post_dose_40m", 40, systolic=138, diastolic=88),
        vitals("recheck_1", 100, Level.HOLD, systolic=145, diastolic=91),
    )

    assembled = form(checkpoints, discharged_minutes=105)

    assert not assembled.vitals_acceptable_before_dosing
    assert not assembled.vitals_acceptable_before_completion
    assert assembled.ready_to_leave_at is None
    assert not assembled.monitored_at_least_2h
    assert assembled.total_monitoring_minutes == 105
    # No MOAA/S or CADSS recorded: nothing reported, rather than a guess.
    assert (assembled.sedation, assembled.lowest_moaas) == (False, None)
    assert (assembled.dissociation, assembled.highest_cadss) == (False, None)


def test_readings_after_discharge_are_not_part_of_the_monitoring() -> None:
    late = vitals("follow_up", 200, Level.CRITICAL, systolic=190, diastolic=115)

    assembled = form((*NORMAL_SESSION, late))

    assert assembled.bp_before_completion is not None
    assert assembled.bp_before_completion.systolic == 124
    assert assembled.vitals_acceptable_before_completion
