"""One reading's trace and log lines: from the HTTP request that brings it, through the session's
signal, to the activity that records its judgement, on the time-skipping server with the real
API, worker and PostgreSQL. Spans are kept in memory; log lines as the processes write them."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from cli.simulation import demo_course
from domain.contract import course_workflow_id
from tests.sessions import NORMAL, NURSE, PERSONA, InRoom, eventually, resolve_open_escalations
from worker.logs import configure_logging
from worker.main import WORKFLOWS
from worker.settings import Settings
from worker.tracing import TRACING, configure_tracing

CALLER_TRACE = 0x5CE0D5E55A5E5CE0D5E55A5E5CE0D5E5
CALLER_SPAN = 0x0123456789ABCDEF
TRACEPARENT = f"00-{format_trace_id(CALLER_TRACE)}-{format_span_id(CALLER_SPAN)}-01"
REQUEST_ID = "tablet-4f2a"
VITALS_ROUTE = "/v1/courses/{course_id}/sessions/{n}/vitals"


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


@pytest.mark.usefixtures("worker")
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


@pytest.mark.usefixtures("worker")
async def test_a_critical_readings_trace_reaches_its_page(
    spans: InMemorySpanExporter, room: InRoom
) -> None:
    """The alert is raised, the Escalation started and the on-call person paged in the trace
    of the request that brought the reading."""
    caller_trace = CALLER_TRACE + 1
    traceparent = f"00-{format_trace_id(caller_trace)}-{format_span_id(CALLER_SPAN)}-01"
    reading_id = await room.vitals({**NURSE, "traceparent": traceparent}, heart_rate=92, spo2=85)
    await room.until_judged(reading_id)

    def trace_spans() -> dict[int, ReadableSpan]:
        finished = spans.get_finished_spans()
        return {s.context.span_id: s for s in finished if s.context.trace_id == caller_trace}

    async def paged() -> ReadableSpan | None:
        found = [s for s in trace_spans().values() if s.name == "RunActivity:page_on_call"]
        return found[0] if found else None

    span = await eventually(paged, polls=1500)
    in_trace, ancestors = trace_spans(), []
    while span.parent is not None and span.parent.span_id in in_trace:
        span = in_trace[span.parent.span_id]
        ancestors.append(span.name)
    assert span.parent is not None and span.parent.span_id == CALLER_SPAN
    assert ancestors == [
        "StartActivity:page_on_call",
        "StartWorkflow:Escalation",
        "RunActivity:raise_alert",
        "StartActivity:raise_alert",
        "HandleSignal:reading_arrived",
        "SignalWorkflow:reading_arrived",
        f"POST {VITALS_ROUTE}",
    ]
    await resolve_open_escalations(room)


@pytest.mark.usefixtures("worker")
async def test_a_session_that_handled_a_traced_reading_replays(
    spans: InMemorySpanExporter, room: InRoom, converter: DataConverter
) -> None:
    """Its history carries the trace in the signal's header; replaying makes no span."""
    await room.until_judged(await room.vitals({**NURSE, "traceparent": TRACEPARENT}, **NORMAL))
    history = await room.env.client.get_workflow_handle(room.session.workflow_id).fetch_history()
    assert any(
        "_tracer-data" in event.workflow_execution_signaled_event_attributes.header.fields
        for event in history.events
    )
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=converter, interceptors=[TRACING])
    in_workflow = ("HandleSignal:reading_arrived", "StartActivity:record_judgement")

    def workflow_spans() -> list[ReadableSpan]:
        return [span for span in spans.get_finished_spans() if span.name in in_workflow]

    before = workflow_spans()

    await replayer.replay_workflow(history)

    assert before and workflow_spans() == before


@pytest.mark.usefixtures("worker")
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


EXPORT_SCRIPT = textwrap.dedent(
    """
    import sys
    from worker.settings import Settings
    from worker.tracing import configure_tracing, tracer

    provider = configure_tracing(Settings(), "trdflow-worker")
    with tracer().start_as_current_span("reading_judged"):
        pass
    provider.shutdown()  # flushes what is batched
    print(any(name.startswith("opentelemetry.exporter") for name in sys.modules))
    """
)


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    """A local OTLP/HTTP collector that keeps what it is sent; its base URL."""
    _Collector.received.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.parametrize("configured", [True, False])
def test_spans_leave_the_process_over_otlp_only_when_a_collector_is_named(
    collector: str, configured: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    if configured:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert done.stdout.split() == [str(configured)]  # an exporter loaded: only to export
    if configured:
        [(path, body)] = _Collector.received
        assert path == "/v1/traces"
        assert b"reading_judged" in body and b"trdflow-worker" in body
    else:
        assert _Collector.received == []
