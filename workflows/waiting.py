"""Waiting helpers shared by the workflows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow


async def wait_for(condition: Callable[[], bool], within: timedelta | None = None) -> bool:
    """Wait until `condition` holds; False if `within` (real time) ran out first."""
    if within is not None and within <= timedelta(0):
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=within)
    except TimeoutError:
        return False
    return True
