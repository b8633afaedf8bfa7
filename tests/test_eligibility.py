"""domain.eligibility: who may start a course at assessment."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.eligibility import Assessment, BloodPressure, Contraindication, assess
from domain.protocol import Indication
from domain.scales import Scale, Score


def assessment(**changes: Any) -> Assessment:
    data: dict[str, Any] = {
        "clinician": "dr-a",
        "failed_antidepressants": 2,
        "contraindications": frozenset(),
        "rems_enrolled": True,
        "baseline_scores": (Score(scale=Scale.PHQ9, total=19),),
        "baseline_bp": BloodPressure(systolic=124, diastolic=78),
    }
    data.update(changes)
    return Assessment.model_validate(data)


def test_eligible_trd() -> None:
    result = assess(assessment(), Indication.TRD)
    assert result.eligible
    assert result.reasons == ()


@pytest.mark.parametrize("failed", [0, 1])
def test_trd_needs_two_failed_antidepressants(failed: int) -> None:
    result = assess(assessment(failed_antidepressants=failed), Indication.TRD)
    assert not result.eligible
    assert len(result.reasons) == 1
    assert "antidepressants" in result.reasons[0]
    assert f"recorded: {failed}" in result.reasons[0]


def test_mdd_with_suicidal_ideation_does_not_need_the_trd_criterion() -> None:
    result = assess(assessment(failed_antidepressants=0), Indication.MDD_SUICIDAL)
    assert result.eligible
    assert result.reasons == ()


def test_mdd_with_suicidal_ideation_still_checks_contraindications_and_rems() -> None:
    result = assess(
        assessment(
            failed_antidepressants=0,
            rems_enrolled=False,
            contraindications=frozenset({Contraindication.INTRACEREBRAL_HAEMORRHAGE}),
        ),
        Indication.MDD_SUICIDAL,
    )
    assert not result.eligible
    assert len(result.reasons) == 2


@pytest.mark.parametrize("contraindication", list(Contraindication))
def test_each_contraindication_makes_ineligible(contraindication: Contraindication) -> None:
    result = assess(assessment(contraindications=frozenset({contraindication})), Indication.TRD)
    assert not result.eligible
    assert result.reasons == (f"contraindication: {contraindication.value.replace('_', ' ')}",)


def test_all_four_label_contraindications_are_known() -> None:
    assert {c.value for c in Contraindication} == {
        "aneurysmal_vascular_disease",
        "arteriovenous_malformation",
        "intracerebral_haemorrhage",
        "esketamine_or_ketamine_hypersensitivity",
    }


def test_not_enrolled_in_rems() -> None:
    result = assess(assessment(rems_enrolled=False), Indication.TRD)
    assert not result.eligible
    assert result.reasons == ("patient is not enrolled in the REMS",)


def test_every_reason_is_listed() -> None:
    result = assess(
        assessment(
            failed_antidepressants=1,
            rems_enrolled=False,
            contraindications=frozenset(Contraindication),
        ),
        Indication.TRD,
    )
    assert not result.eligible
    assert len(result.reasons) == 1 + len(Contraindication) + 1
    # Sorted contraindications: the same assessment always gives the same reasons.
    again = assess(
        assessment(
            failed_antidepressants=1,
            rems_enrolled=False,
            contraindications=frozenset(reversed(list(Contraindication))),
        ),
        Indication.TRD,
    )
    assert again.reasons == result.reasons


def test_baseline_scores_are_required() -> None:
    with pytest.raises(ValidationError):
        assessment(baseline_scores=())
    data = assessment().model_dump()
    del data["baseline_scores"]
    with pytest.raises(ValidationError):
        Assessment.model_validate(data)


def test_baseline_blood_pressure_is_required() -> None:
    data = assessment().model_dump()
    del data["baseline_bp"]
    with pytest.raises(ValidationError):
        Assessment.model_validate(data)


def test_madrs_alone_is_an_acceptable_baseline() -> None:
    result = assess(
        assessment(baseline_scores=(Score(scale=Scale.MADRS, total=34),)), Indication.TRD
    )
    assert result.eligible


@pytest.mark.parametrize(
    "changes",
    [
        {"failed_antidepressants": -1},
        {"clinician": ""},
        {"contraindications": frozenset({"broken_leg"})},
        {"baseline_bp": {"systolic": 400, "diastolic": 80}},
        {"unexpected": True},
    ],
)
def test_bad_assessments_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        assessment(**changes)
