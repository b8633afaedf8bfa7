"""Which doses a session may give."""

from __future__ import annotations

from collections.abc import Sequence

from domain.protocol import MDD_SUICIDAL_FIRST_DOSE_MG, DosingRules, Indication


def allowed_doses(
    rules: DosingRules, indication: Indication, previous_doses_mg: Sequence[int]
) -> tuple[int, ...]:
    """TRD starts at 56 mg; 84 mg only after a 56 mg start; changes go in 28 mg steps.

    MDD with suicidal ideation starts at 84 mg; 56 mg comes only as a reduction after it. A
    re-induction starts again (the course passes no earlier doses).
    """
    if not previous_doses_mg:
        if indication is Indication.MDD_SUICIDAL:
            return (MDD_SUICIDAL_FIRST_DOSE_MG,)
        return (rules.first_dose_mg,)
    last = previous_doses_mg[-1]
    return tuple(d for d in rules.allowed_doses_mg if abs(d - last) <= rules.step_mg)


def devices_for(rules: DosingRules, dose_mg: int) -> int:
    return dose_mg // rules.device_mg
