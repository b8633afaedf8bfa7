"""domain.session.OutcomeReport: what the clinic reports when a session is over."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.scales import Scale
from domain.session import OutcomeReport, SessionOutcome

ATTENDED: dict[str, Any] = {
    "outcome": "attended",
    "reported_by": "nurse-b",
    "dose_mg": 56,
    "devices": 2,
    "lot": "LOT-2026-A1",
}


def test_attended_with_dose_devices_and_lot() -> None:
    report = OutcomeReport.model_validate(ATTENDED)
    assert report.outcome is SessionOutcome.ATTENDED
    assert (report.dose_mg, report.devices, report.lot) == (56, 2, "LOT-2026-A1")


def test_attended_may_carry_a_score_and_note() -> None:
    report = OutcomeReport.model_validate(
        {**ATTENDED, "score": {"scale": "phq9", "total": 9, "item9": 0}, "note": "tolerated well"}
    )
    assert report.score is not None
    assert report.score.scale is Scale.PHQ9


@pytest.mark.parametrize("missing", ["dose_mg", "devices", "lot"])
def test_attended_needs_dose_devices_and_lot(missing: str) -> None:
    data = {k: v for k, v in ATTENDED.items() if k != missing}
    with pytest.raises(ValidationError, match="attended session needs"):
        OutcomeReport.model_validate(data)


@pytest.mark.parametrize("outcome", ["missed", "cancelled"])
def test_missed_or_cancelled_without_a_dose(outcome: str) -> None:
    report = OutcomeReport.model_validate(
        {"outcome": outcome, "reported_by": "front-desk", "note": "no ride"}
    )
    assert report.dose_mg is None
    assert report.devices is None
    assert report.lot is None


@pytest.mark.parametrize("outcome", ["missed", "cancelled"])
@pytest.mark.parametrize(
    "dosed", [{"dose_mg": 56}, {"devices": 2}, {"lot": "L1"}, {"dose_mg": 56, "devices": 2}]
)
def test_missed_or_cancelled_must_not_carry_a_dose(outcome: str, dosed: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="only an attended session"):
        OutcomeReport.model_validate({"outcome": outcome, "reported_by": "nurse-b", **dosed})


@pytest.mark.parametrize(
    "changes",
    [
        {"dose_mg": 0},
        {"dose_mg": -56},
        {"devices": 0},
        {"lot": ""},
        {"lot": "lot with spaces"},
        {"lot": "L" * 41},
        {"reported_by": ""},
        {"reported_by": "x" * 121},
        {"note": "x" * 2001},
        {"outcome": "dosed"},
        {"score": {"scale": "phq9", "total": 30}},
        {"patient_name": "Jane Doe"},
    ],
)
def test_invalid_fields_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OutcomeReport.model_validate({**ATTENDED, **changes})


def test_report_is_frozen() -> None:
    report = OutcomeReport.model_validate(ATTENDED)
    with pytest.raises(ValidationError):
        report.dose_mg = 84  # type: ignore[misc]
