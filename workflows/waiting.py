"""Waiting helpers shared by the workflows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow


async def wait_for(
    condition: Callable[[], bool], within: timedelta | None = None, *, summary: str | None = None
) -> bool:
    """Wait until `condition` holds; False if `within` (real time) ran out first. `summary`
    names the timer in the UI (`domain.summaries`)."""
    if within is not None and within <= timedelta(0):
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=within, timeout_summary=summary)
    except TimeoutError:
        return False
    return True


async def keep_details_current(details: Callable[[], str]) -> None:
    """The UI's current details, set again whenever what they say changes: a handler, a
    timer or a child's result may change them, and none has to remember to. It only waits on
    a condition, so it adds no command: running histories replay unchanged."""
    while True:
        shown = details()
        workflow.set_current_details(shown)
        await workflow.wait_condition(_changed(details, shown))


def _changed(details: Callable[[], str], shown: str) -> Callable[[], bool]:
    return lambda: details() != shown
