"""The process's key-values (`worker.logs.bind_process`) reach every log line, whichever thread
writes it: workflow code logs from the SDK's threads, where contextvars do not follow."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

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
