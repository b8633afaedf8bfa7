"""Stored histories replay under the current workflow code (see histories/README.md).

A change that would break courses already in flight fails here: guard it with
`workflow.patched`, never by re-recording the histories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import StartChildWorkflowExecutionInitiatedEventAttributes
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.histories.files import ROOT, load, stored_files
from tests.histories.record import RECORDED
from worker.main import WORKFLOWS
from worker.tracing import TRACING


@pytest.fixture(scope="module")
def stored() -> dict[Path, WorkflowHistory]:
    files = stored_files()
    assert files, f"no stored histories under {ROOT}: record them with `make histories`"
    return {path: load(path) for path in files}


@pytest.fixture
def replayer(converter: DataConverter) -> Replayer:
    # The converter holds the fixed test key the histories were encrypted with; the workers'
    # tracing interceptor replays too.
    return Replayer(workflows=list(WORKFLOWS), data_converter=converter, interceptors=[TRACING])


async def test_every_stored_history_replays_without_failure(
    stored: dict[Path, WorkflowHistory], replayer: Replayer
) -> None:
    results = await replayer.replay_workflows(each(stored.values()), raise_on_replay_failure=False)

    file_of_run = {history.run_id: path.relative_to(ROOT) for path, history in stored.items()}
    failures = {str(file_of_run[run]): err for run, err in results.replay_failures.items()}
    assert not failures, f"{len(failures)} of {len(stored)} stored histories fail: {failures}"


async def test_a_history_the_code_does_not_match_fails_replay(
    stored: dict[Path, WorkflowHistory], replayer: Replayer
) -> None:
    """Guards the test above against passing vacuously."""
    path = next(path for path, history in stored.items() if child_starts(history))
    course = load(path)  # a fresh copy: the fixture's stays untouched
    child_starts(course)[0].workflow_type.name = "SomeOtherSession"

    result = await replayer.replay_workflow(course, raise_on_replay_failure=False)

    assert isinstance(result.replay_failure, NondeterminismError)


def test_every_persona_has_course_and_session_histories(
    stored: dict[Path, WorkflowHistory],
) -> None:
    kinds = {(path.parent.name, workflow_type(history)) for path, history in stored.items()}

    assert kinds >= {(p, t) for p in RECORDED for t in ("TreatmentCourse", "DosingSession")}


async def each(histories: Iterable[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


def workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def child_starts(
    history: WorkflowHistory,
) -> list[StartChildWorkflowExecutionInitiatedEventAttributes]:
    return [
        event.start_child_workflow_execution_initiated_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
