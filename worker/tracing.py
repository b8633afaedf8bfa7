"""OpenTelemetry traces: one per HTTP request or client call, through the workflow that handles
it to the activities it runs (the SDK's `temporalio.contrib.opentelemetry`).

Every process keeps a tracer provider, so spans have ids (log lines carry them, and they travel
to workflows and activities in Temporal headers); they leave the process only over OTLP (HTTP)
to `OTEL_EXPORTER_OTLP_ENDPOINT`, when it is set. Spans carry ids and names, never PHI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from structlog.typing import EventDict
from temporalio.api.common.v1 import Payload
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.contrib.opentelemetry._context import attached_context
from temporalio.worker import HandleSignalInput, HandleUpdateInput, WorkflowInterceptorClassInput

from worker.settings import Settings

TRACER = "trdflow"


def configure_tracing(settings: Settings, service: str) -> TracerProvider:
    """This process's tracer provider (set once; later calls return it), exporting over OTLP
    only where `settings.otlp_endpoint` names a collector."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    # The SDK's attributes and OTEL_RESOURCE_ATTRIBUTES; OTEL_SERVICE_NAME, where set, names it.
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    if settings.otlp_endpoint is not None:
        # Imported only here: a process that exports nothing loads no exporter.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = f"{settings.otlp_endpoint.rstrip('/')}/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    """The project's tracer, from whichever provider is set (none yet: spans without ids)."""
    return trace.get_tracer(TRACER)


def add_trace_ids(_logger: object, _method: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: the current span's trace and span ids on the line."""
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict.setdefault("trace_id", trace.format_trace_id(span.trace_id))
        event_dict.setdefault("span_id", trace.format_span_id(span.span_id))
    return event_dict


class Tracing(TracingInterceptor):
    """The SDK's tracing interceptor, for clients and workers, with each signal and Update
    handled in its sender's trace: an HTTP request's trace then reaches into the workflow that
    handles its message (the SDK's own files the handler under the workflow's start, linked)."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)
        return _MessagesInSenderTrace


class _Carrier:
    """Where `_completed_span` leaves the new span's context (as it does for outbound calls)."""

    def __init__(self) -> None:
        self.headers: Mapping[str, Payload] = {}


class _MessagesInSenderTrace(TracingWorkflowInboundInterceptor):
    async def handle_signal(self, input: HandleSignalInput) -> None:
        with self._in_sender_trace(f"HandleSignal:{input.signal}", input.headers) as handled:
            if not handled:
                await super().handle_signal(input)
                return
            await self.next.handle_signal(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        with self._in_sender_trace(f"ValidateUpdate:{input.update}", input.headers) as handled:
            if not handled:
                super().handle_update_validator(input)
                return
            self.next.handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        with self._in_sender_trace(f"HandleUpdate:{input.update}", input.headers) as handled:
            if not handled:
                return await super().handle_update_handler(input)
            return await self.next.handle_update_handler(input)

    @contextmanager
    def _in_sender_trace(self, name: str, headers: Mapping[str, Payload]) -> Iterator[bool]:
        """Run the handler with its span, a child of the sender's, as the current one; False
        (the SDK's way) for a message sent from outside any trace."""
        header = headers.get(self.header_key)
        if not header:
            yield False
            return
        sender = self._context_of(header)
        carrier = _Carrier()
        with attached_context(self._set_on_context(sender)):
            # No span while replaying: the handler then runs in the sender's context.
            self._completed_span(name, add_to_outbound=carrier)
            span = carrier.headers.get(self.header_key)
            handling = None if span is None else self._set_on_context(self._context_of(span))
            with attached_context(handling):
                yield True

    def _context_of(self, header: Payload) -> Context:
        return self.text_map_propagator.extract(self.payload_converter.from_payload(header))


TRACING = Tracing()
"""On every client of the project (`worker.client.connect`, the local and test stacks); the
workers take it from their client."""
