"""The project's Temporal client: connecting, starting a course the one allowed way, asking a
query, and ending a process that used one."""

from __future__ import annotations

import asyncio
import atexit
import os
import sys
from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig
from temporalio.service import TLSConfig
from temporalio.types import MethodSyncOrAsyncNoParam

from domain.contract import (
    CLINIC_ID,
    COURSE_PHASE,
    OPEN_ESCALATIONS,
    PATIENT_REF,
    TASK_QUEUE,
    course_workflow_id,
)
from domain.course import CourseResult, CourseStart, Phase
from worker.converter import data_converter
from worker.runner import AHEAD_OF_TASK
from worker.settings import Settings
from worker.tracing import TRACING
from workflows.course import TreatmentCourse

R = TypeVar("R")

QUERY_ATTEMPTS = 5
QUERY_RETRY_SECONDS = 0.2
"""A refused query is asked again once the run's next workflow task has had time to start."""


class SimulationNotAllowedError(ValueError):
    """A compressed clock was asked for where simulation is not enabled."""


class TemporalConfigError(ValueError):
    """The SDK's environment configuration (profile, config file, TLS files) cannot be loaded.
    A ValueError, so a worker waiting for the server does not retry it as an outage."""


def temporal_connect_config(
    settings: Settings, env: Mapping[str, str] | None = None
) -> ClientConnectConfig:
    """`Client.connect`'s arguments from the SDK's environment configuration
    (`temporalio.envconfig`: the `TEMPORAL_PROFILE` profile of the config file, then the
    `TEMPORAL_*` variables of `env`, this process's by default): address, namespace, API key,
    TLS and gRPC metadata. An address or namespace set in `settings` (by name, or by its
    variable) wins; the defaults apply only where neither sets one."""
    try:
        config = ClientConfigProfile.load(override_env_vars=env).to_client_connect_config()
    except (RuntimeError, OSError) as err:
        # The first line only: a TOML parse error then quotes the line, which may be an API key.
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TemporalConfigError(
            "TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE or TEMPORAL_TLS_*: the Temporal client "
            f"configuration cannot be loaded: {first_line}"
        ) from None
    if "temporal_address" in settings.model_fields_set or "target_host" not in config:
        config["target_host"] = settings.temporal_address
    if "temporal_namespace" in settings.model_fields_set or "namespace" not in config:
        config["namespace"] = settings.temporal_namespace
    return config


def temporal_transport_problems(config: ClientConnectConfig) -> list[str]:
    """Why a connection with `config` is not fit for production: plaintext, or no credentials
    (anyone who reaches the frontend could otherwise drive every course). Never quotes one."""
    tls = config.get("tls")
    if tls is None:  # the SDK's own default: TLS exactly when there is an API key
        tls = "api_key" in config
    problems = []
    if tls is False:
        problems.append(
            "TEMPORAL_TLS: the Temporal connection is plaintext: set TEMPORAL_API_KEY (TLS by "
            "default) or TEMPORAL_TLS=true, and never TEMPORAL_TLS=false"
        )
    client_cert = isinstance(tls, TLSConfig) and tls.client_cert and tls.client_private_key
    authorization = any(key.lower() == "authorization" for key in config.get("rpc_metadata", {}))
    if "api_key" not in config and not client_cert and not authorization:
        problems.append(
            "TEMPORAL_API_KEY: the Temporal connection carries no credentials: set "
            "TEMPORAL_API_KEY, or an mTLS client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH "
            "and TEMPORAL_TLS_CLIENT_KEY_PATH)"
        )
    return problems


async def connect(settings: Settings) -> Client:
    """A client as `temporal_connect_config` says, with the project's data converter and
    tracing (its workers' too); in production, never over plaintext or without credentials."""
    config = temporal_connect_config(settings)
    if settings.production and (problems := temporal_transport_problems(config)):
        raise TemporalConfigError("; ".join(problems))
    return await Client.connect(
        **config, data_converter=data_converter(settings), interceptors=[TRACING]
    )


async def ask(handle: WorkflowHandle[Any, Any], query: MethodSyncOrAsyncNoParam[Any, R]) -> R:
    """Run `query`, asking again while a worker refuses to answer it ahead of the run's next
    workflow task (`worker.runner.CatchUpGuard`); any other failure is raised at once."""
    for _ in range(QUERY_ATTEMPTS - 1):
        try:
            return await handle.query(query)
        except WorkflowQueryFailedError as err:
            if err.message != AHEAD_OF_TASK:
                raise
        await asyncio.sleep(QUERY_RETRY_SECONDS)
    return await handle.query(query)


def exit_process(status: int) -> NoReturn:
    """End this process with `status` without finalizing the interpreter, once exit handlers
    have run and stdout and stderr are flushed.

    temporalio 1.35's core runtime hands each call's result to asyncio on a Tokio thread that
    releases the GIL while it wakes the loop and must take it back to finish. A process that
    ends right after a call can reach interpreter finalization first: that thread then dies
    inside the interpreter and the process aborts (`Fatal Python error: PyGILState_Release`) or
    segfaults instead of exiting with its status. The runtime cannot be shut down first (the
    default one is a module global, and a pending hand-over keeps its client alive), so
    finalization is skipped instead.
    """
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def check_simulation(start: CourseStart, settings: Settings) -> None:
    """A compressed clock only where simulation is allowed: else `SimulationNotAllowedError`."""
    if start.time_scale != 1 and not settings.allow_simulation:
        raise SimulationNotAllowedError(
            f"time_scale {start.time_scale:g} compresses the protocol clock, which is for "
            "simulation only: set TRDFLOW_ALLOW_SIMULATION=true to allow it"
        )


async def start_course(
    client: Client, start: CourseStart, settings: Settings
) -> WorkflowHandle[TreatmentCourse, CourseResult]:
    """Start a course once: a second start of the same course id raises
    `temporalio.exceptions.WorkflowAlreadyStartedError`, even after the first has closed."""
    check_simulation(start, settings)
    return await client.start_workflow(
        TreatmentCourse.run,
        start,
        id=course_workflow_id(start.course_id),
        task_queue=TASK_QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        # Visible before the first workflow task runs, so a new course is findable at once.
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(COURSE_PHASE, Phase.ASSESSMENT.value),
                SearchAttributePair(CLINIC_ID, start.clinic_id),
                SearchAttributePair(PATIENT_REF, start.patient_ref),
                SearchAttributePair(OPEN_ESCALATIONS, 0),
            ]
        ),
        # Shown in the UI without decryption, so pseudonymous ids only.
        static_summary=(
            f"Course {start.course_id} · clinic {start.clinic_id} · {start.indication.value}"
        ),
    )
