"""`trdflow ui-views`: the operator's Temporal UI lists as links, and the dev server's visibility
answers each of their queries."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from activities.alerts import Alerts
from activities.patients import PatientRegistry
from cli.localstack import new_course_id
from cli.simulation import PERSONAS, demo_course
from cli.stack import register_search_attributes, venv_binary
from domain.conditions import Condition
from domain.contract import course_workflow_id
from domain.escalation import Severity, escalation_workflow_id
from domain.records import Alert
from tests.activity_runs import registration, run
from tests.cli_runs import invoke
from tests.sessions import eventually
from worker.client import start_course
from worker.settings import Settings, get_settings

UI = "http://ui.example:8080"
CLINIC = "clinic-views"


@pytest.fixture
def ui_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TRDFLOW_UI_ORIGIN", UI)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "clinic-ns")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def views(*args: str) -> dict[str, str]:
    """Each view's name and query, read back from its link."""
    result = invoke("ui-views", "--json", *args)
    assert result.exit_code == 0, result.output
    found = {}
    for view in json.loads(result.output):
        url = urlsplit(view["url"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{UI}/namespaces/clinic-ns/workflows"
        assert parse_qs(url.query) == {"query": [view["query"]]}
        found[view["name"]] = view["query"]
    return found


@pytest.mark.usefixtures("ui_settings")
def test_views_are_links_to_the_ui_with_their_queries() -> None:
    found = views("--clinic", "clinic-a", "--day", "2026-12-02", "--timezone", "America/New_York")

    assert found["Courses in maintenance"] == (
        "WorkflowType = 'TreatmentCourse' AND ExecutionStatus = 'Running' "
        "AND ClinicId = 'clinic-a' AND CoursePhase = 'maintenance'"
    )
    # Midnight to midnight in the clinic's zone (EST, UTC-5).
    assert found["Next session on 2026-12-02 (America/New_York)"].endswith(
        "AND NextSessionAt >= '2026-12-02T05:00:00Z' AND NextSessionAt < '2026-12-03T05:00:00Z'"
    )
    assert found["Courses with open escalations"].endswith(
        "ClinicId = 'clinic-a' AND OpenEscalations > 0"
    )
    assert found["Open escalations at clinic-a"] == (
        "WorkflowType = 'Escalation' AND ExecutionStatus = 'Running' AND ClinicId = 'clinic-a'"
    )
    assert found["Open escalations (every clinic)"] == (
        "WorkflowType = 'Escalation' AND ExecutionStatus = 'Running'"
    )
    courses = [query for query in found.values() if "'TreatmentCourse'" in query]
    assert len(courses) == 8 and all("ClinicId = 'clinic-a'" in q for q in courses)


@pytest.mark.usefixtures("ui_settings")
def test_the_plain_output_names_each_view_above_its_link() -> None:
    result = invoke("ui-views", "--day", "2026-12-02")

    lines = result.output.splitlines()
    assert result.exit_code == 0, result.output
    assert lines[0] == "Active courses"
    assert lines[1] == (
        f"  {UI}/namespaces/clinic-ns/workflows?query=WorkflowType%20%3D%20%27TreatmentCourse"
        "%27%20AND%20ExecutionStatus%20%3D%20%27Running%27"
    )
    assert len(lines) == 2 * len(views("--day", "2026-12-02"))


@pytest.mark.parametrize(
    ("option", "value"), [("--clinic", "Clinic A' OR 1=1"), ("--timezone", "Mars/Olympus")]
)
def test_a_bad_clinic_or_zone_is_refused(option: str, value: str) -> None:
    result = invoke("ui-views", option, value)

    assert result.exit_code == 2
    assert "query=" not in result.output


@pytest.fixture(scope="module")
async def dev_server(converter: DataConverter) -> AsyncIterator[Client]:
    env = await WorkflowEnvironment.start_local(
        data_converter=converter, dev_server_existing_path=str(venv_binary("temporal"))
    )
    try:
        await register_search_attributes(env.client)
        yield env.client
    finally:
        await env.shutdown()


@pytest.mark.usefixtures("ui_settings")
async def test_the_dev_servers_visibility_answers_every_view(
    dev_server: Client, settings: Settings
) -> None:
    """A course just started (no worker yet: it stays in assessment) is in the views that
    should list it, and in no other course view."""
    course = demo_course(new_course_id("views"), PERSONAS["responder"], 1.0, clinic_id=CLINIC)
    await start_course(dev_server, course, settings)
    found = views("--clinic", CLINIC)

    async def listing() -> dict[str, list[str]] | None:
        listed = {
            name: [w.id async for w in dev_server.list_workflows(query)]
            for name, query in found.items()
        }
        return listed if listed["Active courses"] else None

    listed = await eventually(listing)
    course_id = course_workflow_id(course.course_id)
    with_course = {name for name, ids in listed.items() if course_id in ids}
    assert with_course == {"Active courses", "Courses in assessment"}
    await dev_server.get_workflow_handle(course_id).terminate("test over")


@pytest.mark.usefixtures("ui_settings")
async def test_an_escalation_is_in_its_clinics_view_on_the_dev_server(
    dev_server: Client, db_pool: asyncpg.Pool
) -> None:
    # A clinic of its own: its view lists this escalation alone.
    course = registration().model_copy(update={"clinic_id": f"views-{uuid.uuid4().hex[:8]}"})
    await run(PatientRegistry(db_pool).register_patient, course)
    alert = Alert(
        dedup_key=f"course-{course.course_id}/session-1/spo2_low",
        course_id=course.course_id,
        session=1,
        severity=Severity.CRITICAL,
        condition=Condition.SPO2_LOW,
        summary="Session 1: SpO2 85%",
    )
    await run(Alerts(db_pool, dev_server).raise_alert, alert)
    clinic_views = views("--clinic", course.clinic_id)
    elsewhere = views("--clinic", f"{course.clinic_id}-b")

    async def listed(view: dict[str, str], name: str) -> list[str] | None:
        found = [w.id async for w in dev_server.list_workflows(view[name])]
        return found or None

    escalation_id = escalation_workflow_id(alert.dedup_key)
    assert await eventually(
        lambda: listed(clinic_views, f"Open escalations at {course.clinic_id}")
    ) == [escalation_id]
    assert escalation_id in await eventually(
        lambda: listed(clinic_views, "Open escalations (every clinic)")
    )
    assert await listed(elsewhere, f"Open escalations at {course.clinic_id}-b") is None
    await dev_server.get_workflow_handle(escalation_id).terminate("test over")
