"""Eligibility at assessment: TRD criteria, contraindications, REMS enrolment, baselines."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.protocol import Indication
from domain.scales import Score

MIN_FAILED_ANTIDEPRESSANTS = 2


class Contraindication(StrEnum):
    ANEURYSMAL_VASCULAR_DISEASE = "aneurysmal_vascular_disease"
    ARTERIOVENOUS_MALFORMATION = "arteriovenous_malformation"
    INTRACEREBRAL_HAEMORRHAGE = "intracerebral_haemorrhage"
    ESKETAMINE_OR_KETAMINE_HYPERSENSITIVITY = "esketamine_or_ketamine_hypersensitivity"


class BloodPressure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    systolic: int = Field(ge=50, le=300)
    diastolic: int = Field(ge=20, le=200)


class Assessment(BaseModel):
    """What the assessing clinician records."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    clinician: str = Field(min_length=1)
    failed_antidepressants: int = Field(ge=0, le=50)
    """Antidepressants tried without adequate response in the current episode."""
    contraindications: frozenset[Contraindication] = frozenset()
    rems_enrolled: bool
    baseline_scores: tuple[Score, ...] = Field(min_length=1)
    """At least one baseline PHQ-9 or MADRS."""
    baseline_bp: BloodPressure


class Eligibility(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    eligible: bool
    reasons: tuple[str, ...] = ()


def assess(assessment: Assessment, indication: Indication) -> Eligibility:
    reasons: list[str] = []
    if (
        indication is Indication.TRD
        and assessment.failed_antidepressants < MIN_FAILED_ANTIDEPRESSANTS
    ):
        reasons.append(
            f"TRD needs at least {MIN_FAILED_ANTIDEPRESSANTS} antidepressants tried without "
            f"adequate response in this episode (recorded: {assessment.failed_antidepressants})"
        )
    reasons.extend(
        f"contraindication: {c.value.replace('_', ' ')}"
        for c in sorted(assessment.contraindications)
    )
    if not assessment.rems_enrolled:
        reasons.append("patient is not enrolled in the REMS")
    return Eligibility(eligible=not reasons, reasons=tuple(reasons))
