"""One reading's trace and log lines: from the HTTP request that brings it, through the session's
signal, to the activity that records its judgement, on the time-skipping server with the real
API, worker and PostgreSQL. Spans are kept in memory; log lines as the processes write them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from cli.simulation import demo_course
from domain.contract import course_workflow_id
from tests.sessions import NORMAL, NURSE, PERSONA, InRoom, eventually
from worker.logs import configure_logging
from worker.settings import Settings
from worker.tracing import configure_tracing

CALLER_TRACE = 0x5CE0D5E55A5E5CE0D5E55A5E5CE0D5E5
CALLER_SPAN = 0x0123456789ABCDEF
TRACEPARENT = f"00-{format_trace_id(CALLER_TRACE)}-{format_span_id(CALLER_SPAN)}-01"
REQUEST_ID = "tablet-4f2a"
VITALS_ROUTE = "/v1/courses/{course_id}/sessions/{n}/vitals"

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture(scope="module")
def spans(settings: Settings) -> Iterator[InMemorySpanExporter]:
    """Every span this process ends, kept in memory (the provider the processes set up)."""
    exporter = InMemorySpanExporter()
    configure_tracing(settings, "trdflow-tests").add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # keeps nothing more for the modules after this one


class _Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines the process's logging writes meanwhile; logging as it was afterwards."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    configure_logging("INFO")
    lines = _Lines(root.handlers[0].formatter)
    root.handlers[:] = [lines]
    try:
        yield lines.lines
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


async def test_a_readings_trace_runs_from_the_request_to_the_activity_that_records_it(
    spans: InMemorySpanExporter, log_lines: list[dict[str, Any]], room: InRoom
) -> None:
    headers = {**NURSE, "traceparent": TRACEPARENT, "X-Request-ID": REQUEST_ID}
    reading_id = await room.vitals(headers, **NORMAL)
    await room.until_judged(reading_id)

    def in_trace(name: str) -> ReadableSpan | None:
        return next(
            (
                span
                for span in spans.get_finished_spans()
                if span.name == name and span.context.trace_id == CALLER_TRACE
            ),
            None,
        )

    async def recorded() -> ReadableSpan | None:
        return in_trace("RunActivity:record_judgement")

    ran = await eventually(recorded, polls=1500)
    request = in_trace(f"POST {VITALS_ROUTE}")
    signal = in_trace("SignalWorkflow:reading_arrived")
    handled = in_trace("HandleSignal:reading_arrived")
    started = in_trace("StartActivity:record_judgement")
    assert request and signal and handled and started
    # Each a child of the one before, the request of the caller's span.
    chain = [request, signal, handled, started, ran]
    assert [span.parent and span.parent.span_id for span in chain] == [
        CALLER_SPAN,
        *(span.context.span_id for span in chain[:-1]),
    ]
    assert request.kind is SpanKind.SERVER
    assert request.attributes == {
        "http.request.method": "POST",
        "http.route": VITALS_ROUTE,
        "http.response.status_code": 202,
        "trdflow.request_id": REQUEST_ID,
    }
    assert ran.attributes and ran.attributes["temporalWorkflowID"] == room.session.workflow_id
    # No span of any trace holds the patient's contact details.
    contact = demo_course(room.course_id, PERSONA, 1.0).patient
    phi = (contact.name, contact.phone, contact.date_of_birth.isoformat())
    values = [
        str(v) for span in spans.get_finished_spans() for v in (span.attributes or {}).values()
    ]
    assert values and not [value for value in values if any(item in value for item in phi)]

    trace_id = format_trace_id(CALLER_TRACE)
    # The API's line for the reading carries the request's id and trace.
    stored = next(line for line in log_lines if line["event"] == "session.vitals_recorded")
    assert (stored["request_id"], stored["trace_id"]) == (REQUEST_ID, trace_id)
    # The activity's carries what its interceptor bound, and the reading's trace.
    judged = next(line for line in log_lines if line["event"] == "reading_judgement_recorded")
    assert {key: judged[key] for key in ("course_id", "session", "workflow_id", "activity")} == {
        "course_id": room.course_id,
        "session": room.session.number,
        "workflow_id": room.session.workflow_id,
        "activity": "record_judgement",
    }
    assert (judged["reading_id"], judged["trace_id"]) == (reading_id, trace_id)
    assert judged["span_id"] == format_span_id(ran.context.span_id)
    # A workflow's line names its course from the workflow's id.
    phase = next(line for line in log_lines if line["event"] == "phase_entered")
    assert (phase["course_id"], phase["workflow_id"]) == (
        room.course_id,
        course_workflow_id(room.course_id),
    )


async def test_a_request_without_an_id_gets_one_and_a_bad_one_is_replaced(
    room: InRoom, log_lines: list[dict[str, Any]]
) -> None:
    fresh = await room.api.get(f"/v1/courses/{room.course_id}", headers=NURSE)
    bad = await room.api.get(
        f"/v1/courses/{room.course_id}", headers={**NURSE, "X-Request-ID": "Alex Example"}
    )

    ids = [fresh.headers["X-Request-ID"], bad.headers["X-Request-ID"]]
    assert len(set(ids)) == 2 and all(len(given) == 32 for given in ids)
    read = [line["request_id"] for line in log_lines if line["event"] == "course.read"]
    assert read == ids
