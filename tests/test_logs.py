"""The process's key-values (`worker.logs.bind_process`) reach every log line, whichever thread
writes it: workflow code logs from the SDK's threads, where contextvars do not follow. A
workflow's and an activity's lines name the course and session of their workflow's id (what
the activity's lines carry, and the request's, is checked on a live reading in test_traces)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from domain.conditions import Condition, escalation_key
from domain.contract import (
    course_of,
    course_workflow_id,
    rems_filing_workflow_id,
    session_workflow_id,
)
from domain.escalation import escalation_workflow_id

SCRIPT = textwrap.dedent(
    """
    import logging, threading
    import structlog
    from worker.logs import bind_process, configure_logging

    configure_logging("INFO")
    bind_process(worker="worker-2@host")
    in_thread = lambda: logging.getLogger("temporalio.workflow").info("from a workflow thread")
    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    structlog.get_logger("worker.main").info("from the event loop's thread")
    """
)


def test_every_line_of_a_worker_names_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["event"], line["worker"]) for line in lines] == [
        ("from a workflow thread", "worker-2@host"),
        ("from the event loop's thread", "worker-2@host"),
    ]


@pytest.mark.parametrize(
    ("workflow_id", "named"),
    [
        (course_workflow_id("c-1"), ("c-1", None)),
        (session_workflow_id("c-1", 12), ("c-1", 12)),
        (rems_filing_workflow_id("c-1", 12), ("c-1", 12)),
        (
            escalation_workflow_id(escalation_key("course-c-1", Condition.SELF_HARM_ITEM, 2)),
            ("c-1", None),
        ),
        (
            escalation_workflow_id(
                escalation_key(session_workflow_id("c-1-b", 3), Condition.SEDATION, 1)
            ),
            ("c-1-b", 3),
        ),
        (escalation_workflow_id("course-c-1/session-2/bp_critical"), ("c-1", 2)),
        ("worker-probe", (None, None)),
    ],
)
def test_a_workflow_line_names_the_course_and_session_its_workflow_id_does(
    workflow_id: str, named: tuple[str | None, int | None]
) -> None:
    assert course_of(workflow_id) == named
