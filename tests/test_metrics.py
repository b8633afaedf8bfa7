"""Every process serves /metrics, and each metric moves when its event happens: scraped over
HTTP from a worker process (its own metrics and the SDK's), the HTTP API and the codec server,
on a dev server. The dashboard and the alert rules name only metrics these processes export."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli.handles import course_handle
from cli.localstack import free_port, new_course_id, served
from cli.stack import venv_binary
from domain.contract import SEARCH_ATTRIBUTES, session_workflow_id
from domain.course import CourseStatus
from domain.escalation import AckChannel, Acknowledge, Resolve
from domain.records import SessionEvent, SessionEventRecord
from store import rems, sessions
from store.patients import register
from tests.activity_runs import registration
from tests.chaos import Process
from tests.escalations import nurse_on_call
from tests.histories.keys import TEST_KEY, TEST_KEY_ID
from tests.http_api import api_settings
from tests.sessions import GATEWAY, NORMAL, assess, course_for
from tests.test_codec_server import OPERATOR, PAYLOAD, bearer, body
from tests.test_worker_start import STARTED, until_logged
from worker import codec_server
from worker.client import ask
from worker.settings import Settings
from workflows.course import TreatmentCourse

pytestmark = pytest.mark.devserver

DEPLOY = Path(__file__).parent.parent / "deploy"
DASHBOARD = DEPLOY / "grafana" / "trdflow.json"
ALERT_RULES = DEPLOY / "prometheus" / "trdflow-alerts.yml"
POLLS = 600
"""A tenth of a second apart: a minute for a metric to move (visibility is eventually
consistent; a worker's first tasks wait for its pollers)."""
CRITICAL = {**NORMAL, "spo2": 85}
WORKER_IDENTITY = "metrics-worker@test"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class Live:
    client: Client
    pool: asyncpg.Pool
    api: str
    worker: str
    sdk: str
    codec: str
    """Each process's /metrics URL."""


@pytest.fixture(scope="module")
async def live(
    postgres_url: str, db_pool: asyncpg.Pool, settings: Settings, converter: DataConverter
) -> AsyncIterator[Live]:
    """A dev server, the worker as a process of its own (its health port and the SDK's metrics
    port set), and the API and the codec server served over HTTP."""
    port, health_port, sdk_port = free_port(), free_port(), free_port()
    async with AsyncExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="trdflow-metrics-"))
        env = await stack.enter_async_context(
            await WorkflowEnvironment.start_local(
                port=port,
                dev_server_existing_path=str(venv_binary("temporal")),
                search_attributes=SEARCH_ATTRIBUTES,
                data_converter=converter,
            )
        )
        worker = Process(
            [sys.executable, "-m", "worker.main"],
            {
                **os.environ,
                "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
                "DATABASE_URL": postgres_url,
                "TRDFLOW_STATE_DIR": work,
                "TRDFLOW_CODEC_KEYS": json.dumps({TEST_KEY_ID: TEST_KEY}),
                "TRDFLOW_WORKER_HEALTH_PORT": str(health_port),
                "TRDFLOW_WORKER_SDK_METRICS_PORT": str(sdk_port),
                "TRDFLOW_WORKER_IDENTITY": WORKER_IDENTITY,
            },
            Path(work) / "worker.log",
        )
        stack.push_async_callback(worker.kill)
        await worker.start()
        await until_logged(worker.log_file, STARTED)
        api = await stack.enter_async_context(
            served(create_app(api_settings(settings), env.client, db_pool))
        )
        codec = await stack.enter_async_context(served(codec_server.create_app(settings, db_pool)))
        yield Live(
            env.client,
            db_pool,
            api=f"{api}/metrics",
            worker=f"http://127.0.0.1:{health_port}/metrics",
            sdk=f"http://127.0.0.1:{sdk_port}/metrics",
            codec=f"{codec}/metrics",
        )


# --- Scraping ------------------------------------------------------------------------------------


async def scrape(url: str, **headers: str) -> Samples:
    async with httpx.AsyncClient() as http:
        answer = await http.get(url, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


async def until(url: str, check: Callable[[Samples], bool]) -> Samples:
    """Scrape until `check` holds of the samples."""
    for _ in range(POLLS):
        samples = await scrape(url)
        if check(samples):
            return samples
        await _pause()
    raise AssertionError(f"never held at {url}: {check}")


async def _pause() -> None:
    await asyncio.sleep(0.1)


async def eventually(check: Callable[[], Awaitable[Any]]) -> Any:
    for _ in range(POLLS):
        found = await check()
        if found is not None:
            return found
        await _pause()
    raise AssertionError(f"never held: {check}")


# --- The events ----------------------------------------------------------------------------------


async def start_course(live: Live, clinic: str) -> str:
    """A course of `clinic` started through the API, as the EHR would."""
    course_id = new_course_id("metrics")
    course = course_for(course_id).model_copy(update={"clinic_id": clinic})
    async with httpx.AsyncClient(base_url=live.api.removesuffix("/metrics")) as http:
        answer = await http.post(
            "/v1/courses", json=course.model_dump(mode="json"), headers=GATEWAY
        )
    assert answer.status_code == 201, answer.text
    return course_id


async def post_reading(live: Live, course_id: str, session: int, signs: dict[str, int]) -> None:
    reading = {"taken_at": datetime.now(UTC).isoformat(), **signs}
    async with httpx.AsyncClient(base_url=live.api.removesuffix("/metrics")) as http:
        answer = await http.post(
            f"/v1/courses/{course_id}/sessions/{session}/vitals", json=reading, headers=GATEWAY
        )
    assert answer.status_code == 202, answer.text


async def session_started(live: Live, course_id: str) -> int:
    """The course's first session, once its workflow runs (it judges readings from then)."""

    async def named() -> int | None:
        status: CourseStatus = await ask(
            course_handle(live.client, course_id), TreatmentCourse.status
        )
        return None if status.current_session is None else int(status.current_session.number)

    number: int = await eventually(named)

    async def running() -> bool | None:
        try:
            await live.client.get_workflow_handle(session_workflow_id(course_id, number)).describe()
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        return True

    await eventually(running)
    return number


async def test_readings_pages_escalations_outbox_and_courses_move_their_metrics(
    live: Live,
) -> None:
    clinic = f"metrics-{uuid.uuid4().hex[:8]}"
    staff = f"nurse-{uuid.uuid4().hex[:8]}"
    await nurse_on_call(live.pool, clinic, staff)
    worker, sdk, api = await scrape(live.worker), await scrape(live.sdk), await scrape(live.api)

    course_id = await start_course(live, clinic)
    assessing = value(api, "trdflow_courses", phase="assessment")
    await until(live.api, lambda s: value(s, "trdflow_courses", phase="assessment") > assessing)
    inducting = value(await scrape(live.api), "trdflow_courses", phase="induction")
    await assess(live.client, course_id)
    await until(live.api, lambda s: value(s, "trdflow_courses", phase="induction") > inducting)
    session = await session_started(live, course_id)

    # A normal reading, judged before check-in.
    judged = {"level": "normal", "checkpoint": "before_check_in"}
    await post_reading(live, course_id, session, NORMAL)
    worker = await until(
        live.worker,
        lambda s: (
            value(s, "trdflow_readings_judged_total", **judged)
            == value(worker, "trdflow_readings_judged_total", **judged) + 1
            and value(s, "trdflow_reading_to_judgement_seconds_count")
            == value(worker, "trdflow_reading_to_judgement_seconds_count") + 1
        ),
    )
    assert value(worker, "trdflow_reading_to_judgement_seconds_sum") > 0
    # The SDK's runtime counts the same (local) activity on its own port, under the worker's
    # identity.
    recorded = {"activity_type": "record_judgement", "worker": WORKER_IDENTITY}
    executions = "temporal_local_activity_execution_latency_seconds_count"
    await until(
        live.sdk, lambda s: value(s, executions, **recorded) > value(sdk, executions, **recorded)
    )

    # A critical one: judged, and the nurse on call paged (the local outbox stands in for the
    # pager), from the condition to the page.
    pending = value(api, "trdflow_outbox_pending", channel="clinic")
    sent = {"channel": "outbox", "outcome": "sent"}
    await post_reading(live, course_id, session, CRITICAL)
    await until(
        live.worker,
        lambda s: (
            value(s, "trdflow_readings_judged_total", level="critical")
            == value(worker, "trdflow_readings_judged_total", level="critical") + 1
            and value(s, "trdflow_pages_total", **sent)
            == value(worker, "trdflow_pages_total", **sent) + 1
            and value(s, "trdflow_condition_to_page_seconds_count", severity="critical")
            == value(worker, "trdflow_condition_to_page_seconds_count", severity="critical") + 1
        ),
    )

    # The API counts the open escalation and the alert's notice waiting in the outbox.
    mine = {"severity": "critical", "clinic": clinic}
    api = await until(
        live.api,
        lambda s: (
            value(s, "trdflow_escalations_open", status="open", **mine) == 1
            and value(s, "trdflow_escalation_page_wait_seconds", **mine) > 0
        ),
    )
    assert value(api, "trdflow_escalations_page_overdue", **mine) == 0  # its 5 minutes run
    assert value(api, "trdflow_outbox_pending", channel="clinic") > pending
    assert value(api, "trdflow_outbox_oldest_pending_age_seconds", channel="clinic") > 0

    # Five minutes on, the page is past its rung's delay (the time passed by moving its due
    # time back, rather than waiting for it).
    escalation_id = await live.pool.fetchval(
        "SELECT escalation_id FROM escalations WHERE course_id = $1", course_id
    )
    moved = await live.pool.execute(
        "UPDATE escalation_pages SET answer_due_at = now() - interval '1 second' "
        "WHERE escalation_id = $1 AND attempt = 1",
        escalation_id,
    )
    assert moved == "UPDATE 1"  # the first page (a local activity) recorded its rung's delay
    await until(live.api, lambda s: value(s, "trdflow_escalations_page_overdue", **mine) == 1)

    # Acknowledged: no longer overdue; resolved: no longer open.
    handle = live.client.get_workflow_handle(escalation_id)
    await handle.execute_update("acknowledge", Acknowledge(by=staff, via=AckChannel.CLI))
    api = await until(
        live.api,
        lambda s: value(s, "trdflow_escalations_open", status="acknowledged", **mine) == 1,
    )
    assert value(api, "trdflow_escalations_open", status="open", **mine) == 0
    assert value(api, "trdflow_escalations_page_overdue", **mine) == 0
    await handle.execute_update("resolve", Resolve(by=staff, note="SpO2 back to 97%"))
    await until(live.api, lambda s: value(s, "trdflow_escalations_open", **mine) == 0)


async def test_rems_forms_not_in_count_as_due_past_day_5_and_overdue(live: Live) -> None:
    course = registration().model_copy(update={"clinic_id": f"rems-{uuid.uuid4().hex[:8]}"})
    await register(live.pool, course)
    six_days_ago = datetime.now(UTC) - timedelta(days=6)
    await sessions.record_event(
        live.pool,
        SessionEventRecord(
            course_id=course.course_id, session=1, event=SessionEvent.SCHEDULED, at=six_days_ago
        ),
    )
    await live.pool.execute(
        "UPDATE sessions SET scheduled_at = $3 WHERE course_id = $1 AND number = $2",
        course.course_id,
        1,
        six_days_ago,
    )
    form_id = f"course-{course.course_id}/session-1/rems-monitoring"
    await live.pool.execute(
        "INSERT INTO rems_forms (form_id, course_id, session, payload, due_at) "
        "VALUES ($1, $2, 1, '{}', $3)",
        form_id,
        course.course_id,
        six_days_ago + timedelta(days=7),
    )
    clinic = {"clinic": course.clinic_id}
    api = await scrape(live.api)
    assert value(api, "trdflow_rems_forms_due", **clinic) == 1
    assert value(api, "trdflow_rems_forms_past_day_5", **clinic) == 1
    assert value(api, "trdflow_rems_forms_overdue", **clinic) == 0

    await live.pool.execute(
        "UPDATE rems_forms SET due_at = now() - interval '1 second' WHERE form_id = $1", form_id
    )
    api = await scrape(live.api)
    assert value(api, "trdflow_rems_forms_due", **clinic) == 0
    assert value(api, "trdflow_rems_forms_overdue", **clinic) == 1

    await rems.mark_submitted(live.pool, form_id, "portal-1")
    api = await scrape(live.api)
    assert value(api, "trdflow_rems_forms_past_day_5", **clinic) == 0
    assert value(api, "trdflow_rems_forms_overdue", **clinic) == 0


async def test_the_codec_server_counts_payloads_and_serves_metrics_to_any_host(
    live: Live,
) -> None:
    before = value(await scrape(live.codec), "trdflow_codec_payloads_total", action="codec.encoded")
    base = live.codec.removesuffix("/metrics")
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.post(
            "/encode", json=body(PAYLOAD), headers=await bearer(live.pool, OPERATOR)
        )
        assert answer.status_code == 200, answer.text
        # Prometheus scrapes by the pod's address; the payload endpoints still refuse it.
        refused = await http.post("/decode", json=body(PAYLOAD), headers={"host": "10.1.2.3"})
        assert refused.status_code == 400
    after = await scrape(live.codec, host="10.1.2.3:8081")
    assert value(after, "trdflow_codec_payloads_total", action="codec.encoded") == before + 1


# --- The dashboard and the alert rules ------------------------------------------------------------

METRIC_NAME = re.compile(r"\b((?:trdflow|temporal)_[a-z0-9_]+)\b")


def expressions(node: object) -> Iterator[str]:
    """Every PromQL expression in the dashboard (targets' `expr`, variables' queries)."""
    if isinstance(node, dict):
        for key, inner in node.items():
            if key in ("expr", "query", "definition") and isinstance(inner, str):
                yield inner
            elif isinstance(inner, dict) and key == "query" and "query" in inner:
                yield str(inner["query"])
            else:
                yield from expressions(inner)
    elif isinstance(node, list):
        for inner in node:
            yield from expressions(inner)


def referenced() -> dict[str, set[str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    rules = yaml.safe_load(ALERT_RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert {"alert", "expr"} <= rule.keys() and rule["annotations"]["summary"], rule
    return {
        "dashboard": {n for e in expressions(dashboard) for n in METRIC_NAME.findall(e)},
        "alert rules": {
            name
            for group in rules["groups"]
            for rule in group["rules"]
            for name in METRIC_NAME.findall(rule["expr"])
        },
    }


async def test_the_dashboard_and_alert_rules_name_only_metrics_the_processes_export(
    live: Live,
) -> None:
    names = referenced()
    wanted = names["dashboard"] | names["alert rules"]
    # A course for the workers to run: the SDK reports a metric once it has recorded it.
    await start_course(live, f"names-{uuid.uuid4().hex[:8]}")
    exported: set[str] = set()
    for _ in range(POLLS):
        for url in (live.worker, live.sdk, live.api, live.codec):
            exported |= {name for name, _ in await scrape(url)} | await families(url)
        if wanted <= exported:
            break
        await _pause()
    assert wanted - exported == set()
    assert any(name.startswith("temporal_") for name in wanted)


async def families(url: str) -> set[str]:
    """The sample names a family declares, though it has no samples yet (a labelled counter
    before its first event): `_total` of a counter, `_bucket`, `_sum`, `_count` of a
    histogram, the name of a gauge."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(url, timeout=10)).text
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in suffixes.get(family.type, ("",))
    }
