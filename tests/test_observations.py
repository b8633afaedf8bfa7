"""A reading as coded observations (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.conditions import Level
from domain.observations import LOCAL_SYSTEM, LOINC_SYSTEM, checkpoint_vitals, observations_of
from domain.protocol import VitalsLimits
from domain.vitals import VitalSigns, classify

TAKEN = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def test_every_sign_gets_its_code_and_the_findings_about_it() -> None:
    reading = VitalSigns(
        taken_at=TAKEN,
        systolic=205,
        diastolic=100,
        heart_rate=90,
        spo2=96,
        moaas=4,
        cadss=12,
        hypertensive_crisis_symptoms=True,
    )

    observed = observations_of(reading, classify(reading, [], VitalsLimits()))

    assert [(o.code_system, o.code, o.panel_code, o.value, o.unit) for o in observed] == [
        (LOINC_SYSTEM, "8480-6", "85354-9", 205, "mm[Hg]"),
        (LOINC_SYSTEM, "8462-4", "85354-9", 100, "mm[Hg]"),
        (LOINC_SYSTEM, "8867-4", None, 90, "/min"),
        (LOINC_SYSTEM, "59408-5", None, 96, "%"),
        (LOCAL_SYSTEM, "moaas", None, 4, "{score}"),
        (LOCAL_SYSTEM, "cadss", None, 12, "{score}"),
        (LOCAL_SYSTEM, "hypertensive-crisis-symptoms", None, 1, "{present}"),
    ]
    assert [(o.level, o.conditions) for o in observed] == [
        (Level.CRITICAL, ("bp_critical",)),
        (Level.CRITICAL, ("bp_critical",)),
        (Level.NORMAL, ()),
        (Level.NORMAL, ()),
        (Level.NORMAL, ()),
        (Level.NORMAL, ()),
        (Level.CRITICAL, ("hypertensive_crisis",)),
    ]


def test_absent_signs_are_not_observed_and_fold_back_into_a_checkpoint() -> None:
    reading = VitalSigns(taken_at=TAKEN, spo2=87, moaas=5)
    observed = observations_of(reading, classify(reading, [], VitalsLimits()))

    folded = checkpoint_vitals("recheck_1", TAKEN, observed)

    assert [o.code for o in observed] == ["59408-5", "moaas"]
    assert folded.level is Level.CRITICAL and not folded.acceptable
    assert (folded.systolic, folded.moaas, folded.cadss) == (None, 5, None)
