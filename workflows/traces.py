"""A message's trace, carried on to the work it causes later: a reading is judged in the signal
that brings it, but its judgement is recorded by the session's loop, outside that handler.

Contexts only: nothing here makes a command or reads state, so a replay runs the same (the
tracing interceptor makes no span while replaying)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context
from temporalio.contrib.opentelemetry._context import attached_context


def current_trace() -> context.Context:
    """The trace of the message being handled (empty outside one)."""
    return context.get_current()


@contextmanager
def in_trace(carried: context.Context | None) -> Iterator[None]:
    """What starts within runs in `carried`, a message's trace (`current_trace`)."""
    with attached_context(carried):
        yield
