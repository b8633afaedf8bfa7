"""A vitals reading as coded observations: one per sign, with the findings about that sign."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.conditions import Condition, Level
from domain.vitals import Classification, Loinc, VitalSigns

LOINC_SYSTEM = "http://loinc.org"
LOCAL_SYSTEM = "urn:trdflow:observation"
"""The local code system, for what LOINC does not code here (MOAA/S, CADSS, symptoms)."""


class LocalCode(StrEnum):
    MOAAS = "moaas"
    CADSS = "cadss"
    HYPERTENSIVE_CRISIS_SYMPTOMS = "hypertensive-crisis-symptoms"


class SignObservation(BaseModel):
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    code_system: str
    code: str
    panel_code: str | None = None
    value: int
    unit: str
    """UCUM."""
    level: Level
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Sign:
    code_system: str
    code: str
    panel_code: str | None
    unit: str
    value: Callable[[VitalSigns], int | None]
    conditions: frozenset[Condition]
    """The conditions a finding about this sign names (see domain.vitals)."""


_BP = frozenset({Condition.BP_ELEVATED, Condition.BP_SEVERE, Condition.BP_CRITICAL})
_SIGNS = (
    _Sign(LOINC_SYSTEM, Loinc.SYSTOLIC, Loinc.BP_PANEL, "mm[Hg]", lambda r: r.systolic, _BP),
    _Sign(LOINC_SYSTEM, Loinc.DIASTOLIC, Loinc.BP_PANEL, "mm[Hg]", lambda r: r.diastolic, _BP),
    _Sign(
        LOINC_SYSTEM,
        Loinc.HEART_RATE,
        None,
        "/min",
        lambda r: r.heart_rate,
        frozenset({Condition.HEART_RATE_SUSTAINED}),
    ),
    _Sign(LOINC_SYSTEM, Loinc.SPO2, None, "%", lambda r: r.spo2, frozenset({Condition.SPO2_LOW})),
    _Sign(
        LOCAL_SYSTEM,
        LocalCode.MOAAS,
        None,
        "{score}",
        lambda r: r.moaas,
        frozenset({Condition.SEDATION}),
    ),
    _Sign(LOCAL_SYSTEM, LocalCode.CADSS, None, "{score}", lambda r: r.cadss, frozenset()),
    _Sign(
        LOCAL_SYSTEM,
        LocalCode.HYPERTENSIVE_CRISIS_SYMPTOMS,
        None,
        "{present}",
        # Recorded only when present: absence is the default of every reading.
        lambda r: 1 if r.hypertensive_crisis_symptoms else None,
        frozenset({Condition.HYPERTENSIVE_CRISIS}),
    ),
)


def observations_of(
    reading: VitalSigns, classification: Classification
) -> tuple[SignObservation, ...]:
    """The reading's signs, each with the level and conditions of the findings about it."""
    observations = []
    for sign in _SIGNS:
        value = sign.value(reading)
        if value is None:
            continue
        findings = [f for f in classification.findings if f.condition in sign.conditions]
        observations.append(
            SignObservation(
                code_system=sign.code_system,
                code=sign.code,
                panel_code=sign.panel_code,
                value=value,
                unit=sign.unit,
                level=max((f.level for f in findings), default=Level.NORMAL),
                conditions=tuple(f.condition for f in findings),
            )
        )
    return tuple(observations)


class CheckpointVitals(BaseModel):
    """A vitals checkpoint as recorded: the signs the REMS form reports, and its worst level."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    checkpoint: str
    taken_at: AwareDatetime
    level: Level
    systolic: int | None = None
    diastolic: int | None = None
    moaas: int | None = None
    cadss: int | None = None

    @property
    def acceptable(self) -> bool:
        return self.level is Level.NORMAL


def checkpoint_vitals(
    checkpoint: str, taken_at: AwareDatetime, observations: Sequence[SignObservation]
) -> CheckpointVitals:
    """Fold a checkpoint's stored observations back into one record."""
    values = {o.code: o.value for o in observations}
    return CheckpointVitals(
        checkpoint=checkpoint,
        taken_at=taken_at,
        level=max((o.level for o in observations), default=Level.NORMAL),
        systolic=values.get(Loinc.SYSTOLIC),
        diastolic=values.get(Loinc.DIASTOLIC),
        moaas=values.get(LocalCode.MOAAS),
        cadss=values.get(LocalCode.CADSS),
    )
