"""The workflow runner: the SDK's sandbox, with a guard against a query running workflow code
ahead of its workflow task.

sdk-core (bundled with temporalio 1.35.0) answers a query on a run missing from the worker's cache
by fetching the run's whole history. If events arrived after the query was sent (a timer fired, a
child ended), they come back at the end of that history with no workflow task started for them,
and core applies them anyway, in an activation of their own: the workflow reacts outside any task,
with the clock of the previous task, and keeps that reaction for the task that follows. That task
then hands over its signals and Updates in a later activation than a replay of the same history
does, so the history stops replaying (`Update machine does not handle this event`), and a decision
taken from `workflow.now()` is made on a stale clock. `tests/test_query_catch_up.py` reproduces it.

The guard spots that activation: the first one after a replay that is not itself a replay but
carries the replay's clock (a real task always brings a later `WorkflowTaskStarted` time). It
refuses it without running any workflow code. Core then fails the query (the caller asks again)
and evicts the run, and the next workflow task rebuilds it from history, as a replay would.

The sandbox imports a workflow's own modules afresh for every run it starts or rebuilds. With no
bytecode on disk (a checkout run under PYTHONDONTWRITEBYTECODE, as on these machines; the image's
pip install writes it) each import compiles the source again: 16 ms instead of 6 for a
`DosingSession`, 6 instead of 3 for an `Escalation`, on the path of every page. So the runner
compiles them once, as it prepares them.

For every payload it encodes or decodes, the SDK asks the instance which serialization context
the codec should see, and the sandbox answers by running code inside it: 8% of the worker's
CPU with 50 sessions in the room. A codec that takes no context (the project's does not) and
no external storage give the same payloads whatever the answer, so the guard then answers the
workflow's own context itself.
"""

from __future__ import annotations

import compileall
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import structlog
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import (
    DataConverter,
    SerializationContext,
    StorageDriverStoreContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import Info, _Definition

log = structlog.get_logger(__name__)

AHEAD_OF_TASK = (
    "a query caught this run up on events that no workflow task has started yet; "
    "the run is evicted and rebuilt at its next task (ask again)"
)
"""The query's failure: `worker.client.ask` asks again when it sees it."""
REFUSED = "activation_ahead_of_task_refused"
"""The worker's log line for each refusal (the fault run counts them)."""


class GuardedRunner(WorkflowRunner):
    """The sandboxed runner, each instance behind `CatchUpGuard`."""

    def __init__(self, data_converter: DataConverter) -> None:
        self._inner = SandboxedWorkflowRunner()
        self._context_blind = (
            not isinstance(data_converter.payload_codec, WithSerializationContext)
            and data_converter.external_storage is None
        )
        """Whether the codec's payloads are the same whatever the serialization context."""

    def prepare_workflow(self, defn: _Definition) -> None:
        module = sys.modules[defn.cls.__module__].__file__
        if module is not None:
            _compiled(Path(module).parent)
        self._inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        context = (
            WorkflowSerializationContext(
                namespace=det.info.namespace, workflow_id=det.info.workflow_id
            )
            if self._context_blind
            else None
        )
        return CatchUpGuard(self._inner.create_instance(det), context)

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self._inner.set_worker_level_failure_exception_types(types)


class CatchUpGuard(WorkflowInstance):
    """Refuses the activation a query's history fetch applies ahead of any workflow task."""

    def __init__(
        self, inner: WorkflowInstance, context: WorkflowSerializationContext | None = None
    ) -> None:
        self._inner = inner
        self._context = context
        """The context for every payload, when the codec takes none (else asked of the sandbox)."""
        self._replayed_clock: int | None = None
        """The clock of the last replayed activation, until the first live one arrives."""

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        if _moves_the_workflow(act):
            clock = act.timestamp.ToNanoseconds()
            if act.is_replaying:
                self._replayed_clock = clock
            else:
                ahead = clock == self._replayed_clock
                self._replayed_clock = None
                if ahead:
                    return self._refuse(act)
        return self._inner.activate(act)

    def _refuse(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        info = self._inner.get_info()
        log.warning(
            REFUSED,
            workflow_id=info.workflow_id,
            run_id=act.run_id,
            history_length=act.history_length,
        )
        completion = WorkflowActivationCompletion(run_id=act.run_id)
        completion.failed.failure.message = AHEAD_OF_TASK
        return completion

    def get_serialization_context(
        self, command_info: CommandInfo | None
    ) -> SerializationContext | None:
        if self._context is not None:
            return self._context
        return self._inner.get_serialization_context(command_info)

    def get_external_store_context(
        self, command_info: CommandInfo | None
    ) -> StorageDriverStoreContext:
        if self._context is not None:
            return StorageDriverStoreContext()  # no external storage: never read
        return self._inner.get_external_store_context(command_info)

    def get_info(self) -> Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()


@cache
def _compiled(package: Path) -> None:
    """Bytecode for the package's modules, written where Python looks for it (unless the
    folder is read-only: then they are compiled on every import, as before)."""
    if not compileall.compile_dir(package, maxlevels=0, quiet=2):
        log.warning("workflow_bytecode_not_written", package=str(package))


def _moves_the_workflow(act: WorkflowActivation) -> bool:
    """Whether the activation carries events: not a query or an eviction alone."""
    return any(
        job.WhichOneof("variant") not in ("query_workflow", "remove_from_cache") for job in act.jobs
    )
