"""The runner answers a codec's serialization context itself only for a codec that takes none
(`worker.runner.GuardedRunner`): a codec that does take one still gets each command's own, as
the sandbox gives it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import (
    DataConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from worker.runner import GuardedRunner


@activity.defn
async def echo(text: str) -> str:
    return f"{text}, back"


@workflow.defn
class Echoes:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            echo, text, start_to_close_timeout=timedelta(seconds=10)
        )


class ContextNamingCodec(PayloadCodec, WithSerializationContext):
    """Leaves payloads as they are; notes each one it encodes with the kind of context it was
    given."""

    def __init__(
        self, seen: list[tuple[str, bytes]], context: SerializationContext | None = None
    ) -> None:
        self._seen = seen
        self._context = context

    def with_context(self, context: SerializationContext) -> ContextNamingCodec:
        return ContextNamingCodec(self._seen, context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self._seen.extend((type(self._context).__name__, payload.data) for payload in payloads)
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


async def test_a_codec_that_takes_a_context_gets_each_activitys_own(
    env: WorkflowEnvironment,
) -> None:
    seen: list[tuple[str, bytes]] = []
    converter = dataclasses.replace(DataConverter.default, payload_codec=ContextNamingCodec(seen))
    config = env.client.config()
    config["data_converter"] = converter
    client = Client(**config)
    queue = f"contexts-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[Echoes],
        activities=[echo],
        workflow_runner=GuardedRunner(converter),
    ):
        answer = await client.execute_workflow(Echoes.run, "hello", id=queue, task_queue=queue)
    assert answer == "hello, back"
    # The workflow schedules the activity: its input is encoded in the activity's context.
    assert ("ActivitySerializationContext", b'"hello"') in seen
