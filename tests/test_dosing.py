"""domain.dosing: which doses a session may give."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dosing import allowed_doses, devices_for
from domain.protocol import DosingRules, Indication

RULES = DosingRules()


def test_trd_first_session_is_56_only() -> None:
    assert allowed_doses(RULES, Indication.TRD, []) == (56,)


def test_trd_84_only_after_a_56_start() -> None:
    assert allowed_doses(RULES, Indication.TRD, [56]) == (56, 84)
    assert 84 not in allowed_doses(RULES, Indication.TRD, [])


@pytest.mark.parametrize(
    ("history", "allowed"),
    [
        ([56, 84], (56, 84)),
        ([56, 84, 84], (56, 84)),
        ([56, 84, 56], (56, 84)),
    ],
)
def test_trd_later_sessions_are_56_or_84(history: list[int], allowed: tuple[int, ...]) -> None:
    assert allowed_doses(RULES, Indication.TRD, history) == allowed


def test_mdd_suicidal_starts_at_84_and_reduces_to_56_only_after_it() -> None:
    assert allowed_doses(RULES, Indication.MDD_SUICIDAL, []) == (84,)
    assert allowed_doses(RULES, Indication.MDD_SUICIDAL, [84]) == (56, 84)


def test_a_clinic_offering_only_56_mg_keeps_every_session_at_56() -> None:
    rules = DosingRules(allowed_doses_mg=(56,))
    assert allowed_doses(rules, Indication.TRD, [56, 56]) == (56,)


@pytest.mark.parametrize(("dose", "devices"), [(56, 2), (84, 3)])
def test_devices_for_a_dose(dose: int, devices: int) -> None:
    assert devices_for(RULES, dose) == devices


@settings(max_examples=100, deadline=None)
@given(
    indication=st.sampled_from(list(Indication)),
    choices=st.lists(st.integers(min_value=0, max_value=10), max_size=12),
)
def test_any_course_of_allowed_doses_stays_within_the_rules(
    indication: Indication, choices: list[int]
) -> None:
    """Walk a course choosing only allowed doses: every step obeys the label."""
    rules = RULES
    history: list[int] = []
    for choice in choices:
        options = allowed_doses(rules, indication, history)
        assert options
        assert set(options) <= set(rules.allowed_doses_mg)
        dose = options[choice % len(options)]
        if history:
            assert abs(dose - history[-1]) <= rules.step_mg
        else:
            assert dose == (56 if indication is Indication.TRD else 84)
        history.append(dose)
    if indication is Indication.TRD and history:
        assert history[0] == 56
