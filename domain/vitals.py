"""Vitals readings and their classification against the clinic's limits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.clock import ClinicalTime
from domain.conditions import Condition, Level
from domain.protocol import VitalsLimits


class Loinc(StrEnum):
    """Observation codes (FHIR R4, LOINC)."""

    BP_PANEL = "85354-9"
    SYSTOLIC = "8480-6"
    DIASTOLIC = "8462-4"
    HEART_RATE = "8867-4"
    SPO2 = "59408-5"
    PHQ9_TOTAL = "44261-6"
    PHQ9_ITEM9 = "44260-8"
    """Thoughts that you would be better off dead, or of hurting yourself."""


AWAKE_MOAAS = 5
"""MOAA/S 5 is awake and alert: anything lower is sedation, and no discharge."""


class VitalSigns(BaseModel):
    """One reading from the nurse's tablet or a device gateway; any subset of the signs."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    taken_at: ClinicalTime
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


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    level: Level
    condition: Condition
    detail: str


class Classification(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    level: Level
    findings: tuple[Finding, ...] = ()

    @property
    def bp_acceptable(self) -> bool:
        return not any(f.condition.is_blood_pressure for f in self.findings)


def classify(
    reading: VitalSigns, earlier: Sequence[VitalSigns], limits: VitalsLimits
) -> Classification:
    """Classify a reading; `earlier` readings of the same session give the two-reading rules,
    which look back no further than the protocol's window."""
    window = timedelta(minutes=limits.two_reading_window_minutes)
    recent = [r for r in earlier if timedelta(0) <= reading.taken_at - r.taken_at <= window]
    findings = [*_blood_pressure(reading, recent, limits), *_other_signs(reading, recent, limits)]
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
        return [Finding(level=Level.CRITICAL, condition=Condition.BP_CRITICAL, detail=f"BP {bp}")]
    if _severe(reading, limits):
        apart = timedelta(minutes=limits.critical_repeat_apart_minutes)
        repeated = [
            r
            for r in earlier
            if r.has_bp and _severe(r, limits) and reading.taken_at - r.taken_at >= apart
        ]
        if repeated:
            return [
                Finding(
                    level=Level.CRITICAL,
                    condition=Condition.BP_CRITICAL,
                    detail=f"BP {bp} and earlier severe reading 5 min apart",
                )
            ]
        return [
            Finding(
                level=Level.HOLD, condition=Condition.BP_SEVERE, detail=f"BP {bp} (repeat in 5 min)"
            )
        ]
    if (
        reading.systolic > limits.hold_above_systolic
        or reading.diastolic > limits.hold_above_diastolic
    ):
        return [Finding(level=Level.HOLD, condition=Condition.BP_ELEVATED, detail=f"BP {bp}")]
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
            Finding(
                level=Level.CRITICAL, condition=Condition.SPO2_LOW, detail=f"SpO2 {reading.spo2}%"
            )
        )
    if reading.moaas is not None and reading.moaas <= limits.critical_moaas_at_most:
        findings.append(
            Finding(
                level=Level.CRITICAL, condition=Condition.SEDATION, detail=f"MOAA/S {reading.moaas}"
            )
        )
    if reading.hypertensive_crisis_symptoms:
        findings.append(
            Finding(
                level=Level.CRITICAL,
                condition=Condition.HYPERTENSIVE_CRISIS,
                detail="hypertensive-crisis symptoms",
            )
        )
    earlier_hr = sorted((r for r in earlier if r.heart_rate is not None), key=lambda r: r.taken_at)
    last_hr = earlier_hr[-1].heart_rate if earlier_hr else None
    hr, limit = reading.heart_rate, limits.urgent_heart_rate_above
    if hr is not None and hr > limit and last_hr is not None and last_hr > limit:
        findings.append(
            Finding(
                level=Level.URGENT,
                condition=Condition.HEART_RATE_SUSTAINED,
                detail=f"heart rate {last_hr} then {hr}",
            )
        )
    return findings


class SignsAtRest(BaseModel):
    """The latest value of each sign the dose and discharge look at, from whichever reading
    had it."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    moaas: int | None = None

    @classmethod
    def latest(cls, readings: Iterable[VitalSigns]) -> SignsAtRest:
        """From readings in the order they arrived: each sign's last value."""
        values: dict[str, int] = {}
        for reading in readings:
            for name in cls.model_fields:
                value = getattr(reading, name)
                if value is not None:
                    values[name] = value
        return cls(**values)

    def missing(self) -> list[str]:
        """The signs of the pre-dose set (BP, heart rate, SpO2) not taken."""
        present = (
            ("blood pressure", self.systolic),
            ("heart rate", self.heart_rate),
            ("SpO2", self.spo2),
        )
        return [name for name, value in present if value is None]

    def refusal(self, limits: VitalsLimits) -> str | None:
        """Why these signs do not allow discharge, or None if they are complete and safe."""
        missing = self.missing()
        if missing:
            return f"no {missing[0]}"
        if self.moaas is None:
            return "no sedation score (MOAA/S)"
        # missing() is empty: every sign of the set is present.
        assert self.systolic is not None and self.diastolic is not None
        assert self.heart_rate is not None and self.spo2 is not None
        if (
            self.systolic > limits.hold_above_systolic
            or self.diastolic > limits.hold_above_diastolic
        ):
            return f"blood pressure {self.systolic}/{self.diastolic} is not back to a safe level"
        if self.heart_rate > limits.urgent_heart_rate_above:
            return f"heart rate {self.heart_rate} is too high"
        if self.spo2 < limits.critical_spo2_below:
            return f"SpO2 {self.spo2}% is too low"
        if self.moaas < AWAKE_MOAAS:
            return f"MOAA/S {self.moaas}: not awake and alert"
        return None
