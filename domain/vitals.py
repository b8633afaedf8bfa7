"""Vitals readings and their classification against the clinic's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from enum import IntEnum, StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.protocol import VitalsLimits


class Loinc(StrEnum):
    """Observation codes (FHIR R4, LOINC)."""

    BP_PANEL = "85354-9"
    SYSTOLIC = "8480-6"
    DIASTOLIC = "8462-4"
    HEART_RATE = "8867-4"
    SPO2 = "59408-5"
    PHQ9_TOTAL = "44261-6"


class VitalSigns(BaseModel):
    """One reading from the nurse's tablet or a device gateway; any subset of the signs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    taken_at: AwareDatetime
    systolic: int | None = Field(default=None, ge=50, le=300)
    diastolic: int | None = Field(default=None, ge=20, le=200)
    heart_rate: int | None = Field(default=None, ge=20, le=250)
    spo2: int | None = Field(default=None, ge=50, le=100)
    moaas: int | None = Field(default=None, ge=0, le=5)
    """Sedation, Modified Observer's Assessment of Alertness/Sedation (5 = awake)."""
    cadss: int | None = Field(default=None, ge=0, le=92)
    """Dissociation, Clinician-Administered Dissociative States Scale."""
    hypertensive_crisis_symptoms: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.systolic is None) != (self.diastolic is None):
            raise ValueError("blood pressure needs both systolic and diastolic")
        if (
            self.systolic is not None
            and self.diastolic is not None
            and self.diastolic >= self.systolic
        ):
            raise ValueError("diastolic must be below systolic")
        signs = (self.systolic, self.heart_rate, self.spo2, self.moaas, self.cadss)
        if all(v is None for v in signs) and not self.hypertensive_crisis_symptoms:
            raise ValueError("a reading needs at least one sign")
        return self

    @property
    def has_bp(self) -> bool:
        return self.systolic is not None


class Level(IntEnum):
    """Ordered, so the worst finding of a reading is its level."""

    NORMAL = 0
    HOLD = 1
    """Pre-dose BP above 140/90: a clinician decides to proceed or delay."""
    ROUTINE = 2
    URGENT = 3
    CRITICAL = 4


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: Level
    condition: str
    """A stable name for the condition, part of an escalation's dedup key."""
    detail: str


class Classification(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: Level
    findings: tuple[Finding, ...] = ()

    @property
    def bp_acceptable(self) -> bool:
        return not any(f.condition.startswith("bp_") for f in self.findings)


def classify(
    reading: VitalSigns, earlier: Sequence[VitalSigns], limits: VitalsLimits
) -> Classification:
    """Classify a reading; `earlier` readings of the same session give the repeat rules."""
    findings = [*_blood_pressure(reading, earlier, limits), *_other_signs(reading, earlier, limits)]
    level = max((f.level for f in findings), default=Level.NORMAL)
    return Classification(level=level, findings=tuple(findings))


def _blood_pressure(
    reading: VitalSigns, earlier: Sequence[VitalSigns], limits: VitalsLimits
) -> list[Finding]:
    if reading.systolic is None or reading.diastolic is None:
        return []
    bp = f"{reading.systolic}/{reading.diastolic}"
    if (
        reading.systolic >= limits.critical_once_systolic
        or reading.diastolic >= limits.critical_once_diastolic
    ):
        return [Finding(level=Level.CRITICAL, condition="bp_critical", detail=f"BP {bp}")]
    if _severe(reading, limits):
        window = timedelta(minutes=limits.critical_repeat_window_minutes)
        repeated = [
            r
            for r in earlier
            if r.has_bp and _severe(r, limits) and reading.taken_at - r.taken_at >= window
        ]
        if repeated:
            return [
                Finding(
                    level=Level.CRITICAL,
                    condition="bp_critical",
                    detail=f"BP {bp} and earlier severe reading 5 min apart",
                )
            ]
        return [
            Finding(level=Level.HOLD, condition="bp_severe", detail=f"BP {bp} (repeat in 5 min)")
        ]
    if (
        reading.systolic > limits.hold_above_systolic
        or reading.diastolic > limits.hold_above_diastolic
    ):
        return [Finding(level=Level.HOLD, condition="bp_elevated", detail=f"BP {bp}")]
    return []


def _severe(reading: VitalSigns, limits: VitalsLimits) -> bool:
    assert reading.systolic is not None and reading.diastolic is not None
    return (
        reading.systolic >= limits.critical_repeat_systolic
        or reading.diastolic >= limits.critical_repeat_diastolic
    )


def _other_signs(
    reading: VitalSigns, earlier: Sequence[VitalSigns], limits: VitalsLimits
) -> list[Finding]:
    findings = []
    if reading.spo2 is not None and reading.spo2 < limits.critical_spo2_below:
        findings.append(
            Finding(level=Level.CRITICAL, condition="spo2_low", detail=f"SpO2 {reading.spo2}%")
        )
    if reading.moaas is not None and reading.moaas <= limits.critical_moaas_at_most:
        findings.append(
            Finding(level=Level.CRITICAL, condition="sedation", detail=f"MOAA/S {reading.moaas}")
        )
    if reading.hypertensive_crisis_symptoms:
        findings.append(
            Finding(
                level=Level.CRITICAL,
                condition="hypertensive_crisis",
                detail="hypertensive-crisis symptoms",
            )
        )
    last_hr = next((r.heart_rate for r in reversed(earlier) if r.heart_rate is not None), None)
    hr, limit = reading.heart_rate, limits.urgent_heart_rate_above
    if hr is not None and hr > limit and last_hr is not None and last_hr > limit:
        findings.append(
            Finding(
                level=Level.URGENT,
                condition="heart_rate_sustained",
                detail=f"heart rate {last_hr} then {hr}",
            )
        )
    return findings
