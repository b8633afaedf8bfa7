"""FHIR R4B: a whole simulated course exported as a Bundle, through the API and the CLI.

The desaturating patient's course is played to its end on the time-skipping server (readings,
doses, reminders, and the critical SpO2 that pages the on-call nurse, who acknowledges and
resolves it on the console); its Bundle is then read back and validated with `fhir.resources`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.console_player import ConsoleNurse
from cli.localstack import new_course_id, play
from cli.oncall import seed_demo
from cli.room import ClinicApi
from cli.simulation import DEMO_PROTOCOL, PERSONAS, demo_course
from domain.access import Identity, Kind, Role
from domain.chart import CourseChart
from domain.course import CourseStart
from domain.fhir import NASAL_ROUTE, phq9
from domain.protocol import PROTOCOL_VERSION, Indication
from domain.scales import Scale, Score
from domain.vitals import Loinc
from store import tokens
from store.charts import course_chart
from tests.cli_runs import cli
from tests.http_api import api_client, api_settings, bearer, token_of
from worker.main import Workers
from worker.settings import Settings, get_settings

CLINIC = "fhir-clinic"
PERSONA = PERSONAS["desaturates"]
EHR = bearer("gateway-test")
"""The clinic's EHR (and gateway): its role may read PHI."""


@dataclass(frozen=True)
class Played:
    course: CourseStart
    sessions: int


async def token(pool: asyncpg.Pool, role: Role, kind: Kind, clinic: str = CLINIC) -> str:
    who = Identity(
        actor=f"{role.value}-fhir", kind=kind, roles=frozenset({role}), clinics=frozenset({clinic})
    )
    issued = await tokens.issue(pool, who, timedelta(days=1), "tests")
    return issued.token


@pytest.fixture(scope="module")
async def played(
    env: WorkflowEnvironment,
    clinic: ClinicApi,
    settings: Settings,
    db_pool: asyncpg.Pool,
    worker: Workers,
) -> AsyncIterator[Played]:
    """The desaturating patient's whole course, at a clinic of its own with staff on call."""
    await seed_demo(db_pool, CLINIC, DEMO_PROTOCOL)
    course = demo_course(new_course_id("fhir"), PERSONA, time_scale=1.0, clinic_id=CLINIC)
    async with api_client(api_settings(settings), env.client, db_pool) as console:
        nurse = ConsoleNurse(console, token_of("nurse-test"))
        _, result = await play(env, clinic, course, PERSONA, on_call=nurse)
    yield Played(course, result.sessions_done)


async def bundle_of(api: httpx.AsyncClient, course_id: str, headers: dict[str, str]) -> Any:
    response = await api.get(f"/fhir/r4b/CarePlan/{course_id}/$everything", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    return response.json()


def of_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def codes(concept: dict[str, Any]) -> set[str]:
    return {coding["code"] for coding in concept["coding"]}


def references(value: Any) -> list[str]:
    """Every `reference` anywhere in a resource."""
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


async def test_a_whole_course_exports_as_a_valid_bundle_of_every_resource(
    played: Played, api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    course_id = played.course.course_id

    bundle = await bundle_of(api, course_id, EHR)

    Bundle.model_validate(bundle)  # every resource, as fhir.resources reads it
    chart = await course_chart(db_pool, course_id)
    assert chart is not None
    (plan,) = of_type(bundle, "CarePlan")
    appointments = of_type(bundle, "Appointment")
    assert len(appointments) == len(chart.sessions) == played.sessions == 2 * 4
    assert plan["status"] == "revoked"  # stopped at the induction review
    assert len(plan["activity"]) == len(appointments) + len(of_type(bundle, "CommunicationRequest"))

    observations = of_type(bundle, "Observation")
    by_code: dict[str, list[dict[str, Any]]] = {}
    for observation in observations:
        for code in codes(observation["code"]):
            by_code.setdefault(code, []).append(observation)
    readings = {o["identifier"][0]["value"] for o in observations if "identifier" in o}
    assert readings == {str(r.id) for r in chart.readings}
    (panel, *_) = by_code[Loinc.BP_PANEL]
    assert [codes(c["code"]) for c in panel["component"]] == [{Loinc.SYSTOLIC}, {Loinc.DIASTOLIC}]
    assert all(c["valueQuantity"]["code"] == "mm[Hg]" for c in panel["component"])
    assert by_code[Loinc.HEART_RATE] and by_code[Loinc.SPO2]
    assert {o["category"][0]["coding"][0]["code"] for o in by_code[Loinc.SPO2]} == {"vital-signs"}
    phq9_totals = [o["valueInteger"] for o in by_code[Loinc.PHQ9_TOTAL]]
    assert phq9_totals == [PERSONA.baseline_phq9, PERSONA.phq9_after(played.sessions)]

    doses = of_type(bundle, "MedicationAdministration")
    assert len(doses) == len(chart.doses) == played.sessions
    for dose in doses:
        assert dose["status"] == "completed"
        assert dose["dosage"]["route"]["coding"] == [NASAL_ROUTE]
        assert dose["dosage"]["dose"]["unit"] == "mg"
    assert {d["dosage"]["dose"]["value"] for d in doses} == {56, PERSONA.dose_mg}
    (medication,) = of_type(bundle, "Medication")
    assert medication["batch"]["lotNumber"] == chart.doses[0].given.lot

    (flag,) = of_type(bundle, "Flag")
    (issue,) = of_type(bundle, "DetectedIssue")
    assert codes(flag["code"]) == codes(issue["code"]) == {"spo2_low"}
    assert flag["status"] == "inactive" and "end" in flag["period"]  # resolved on the console
    assert issue["severity"] == "high"
    acknowledged, resolved = (m["action"]["text"] for m in issue["mitigation"])
    assert acknowledged == "acknowledged" and resolved.startswith("resolved: ")
    implicated = [r["reference"] for r in issue["implicated"]]
    (low,) = [o for o in observations if f"Observation/{o['id']}" in implicated]
    assert len(implicated) == 1 and codes(low["code"]) == {Loinc.SPO2}  # not the reading's BP
    assert low["valueQuantity"]["value"] < 90
    assert low["interpretation"][0]["coding"][0]["code"] == "AA"

    reminders = of_type(bundle, "CommunicationRequest")
    assert len(reminders) == len(chart.reminders) > 0
    assert {r["status"] for r in reminders} == {"completed"}
    assert {codes(r["medium"][0]) == {"SMSWRIT"} for r in reminders} == {True}

    present = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    assert len(present) == len(bundle["entry"])
    referenced = {r for e in bundle["entry"] for r in references(e["resource"])}
    assert referenced - present == set()
    assert {"Patient", "CarePlan", "Appointment", "Observation"} <= {
        r.split("/")[0] for r in referenced
    }
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"].endswith(f"/fhir/r4b/{resource['resourceType']}/{resource['id']}")


async def test_phi_only_for_a_caller_whose_roles_may_read_it(
    played: Played, api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    course = played.course
    patient = course.patient
    scheduler = {"Authorization": f"Bearer {await token(db_pool, Role.SCHEDULER, Kind.SYSTEM)}"}

    with_phi = await bundle_of(api, course.course_id, EHR)
    without = await bundle_of(api, course.course_id, scheduler)
    patient_read = await api.get(f"/fhir/r4b/Patient/{course.patient_ref}", headers=scheduler)

    (named,) = of_type(with_phi, "Patient")
    assert named["name"] == [{"text": patient.name}]
    assert named["birthDate"] == patient.date_of_birth.isoformat()
    assert {"system": "phone", "value": patient.phone, "use": "mobile"} in named["telecom"]
    (pseudonymous,) = of_type(without, "Patient")
    assert pseudonymous["id"] == course.patient_ref
    assert pseudonymous["meta"]["security"][0]["code"] == "REDACTED"
    assert patient_read.status_code == 200, patient_read.text
    for text in (json.dumps(without), patient_read.text):
        for phi in (patient.name, patient.phone, patient.date_of_birth.isoformat()):
            assert phi not in text
    assert "payload" not in json.dumps(of_type(without, "CommunicationRequest"))
    # Why the course ended may be a clinician's own words.
    assert "induction review" in of_type(with_phi, "CarePlan")[0]["description"]
    assert "induction review" not in of_type(without, "CarePlan")[0]["description"]
    audited = await db_pool.fetch(
        "SELECT actor, action, details->>'phi' AS phi FROM audit_log"
        " WHERE course_id = $1 AND action LIKE 'fhir.%' ORDER BY id",
        course.course_id,
    )
    assert [tuple(row.values()) for row in audited][-2:] == [
        ("gateway-test", "fhir.course_read", "true"),
        ("scheduler-fhir", "fhir.course_read", "false"),
    ]


async def test_another_clinics_course_is_not_found_and_a_role_without_reads_is_refused(
    played: Played, api: httpx.AsyncClient, db_pool: asyncpg.Pool
) -> None:
    course = played.course
    elsewhere = await token(db_pool, Role.NURSE, Kind.PERSON, clinic="other-clinic")
    gateway = await token(db_pool, Role.DEVICE_GATEWAY, Kind.SYSTEM)
    paths = (
        f"/fhir/r4b/CarePlan/{course.course_id}/$everything",
        f"/fhir/r4b/CarePlan/{course.course_id}",
        f"/fhir/r4b/Patient/{course.patient_ref}",
    )

    for path in paths:
        other = await api.get(path, headers={"Authorization": f"Bearer {elsewhere}"})
        refused = await api.get(path, headers={"Authorization": f"Bearer {gateway}"})
        anonymous = await api.get(path)
        assert (other.status_code, refused.status_code, anonymous.status_code) == (404, 403, 401)
        assert course.patient.name not in other.text


async def test_the_care_plan_reads_alone(played: Played, api: httpx.AsyncClient) -> None:
    course_id = played.course.course_id

    response = await api.get(f"/fhir/r4b/CarePlan/{course_id}", headers=EHR)

    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["resourceType"], plan["id"]) == ("CarePlan", course_id)
    assert plan == of_type(await bundle_of(api, course_id, EHR), "CarePlan")[0]


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_prints_the_bundle(played: Played, client: Client) -> None:
    course = played.course

    exported = await cli("fhir", "export", course.course_id, "--base", "https://ehr.example/fhir")

    assert exported.exit_code == 0, exported.output
    bundle = json.loads(exported.stdout)
    Bundle.model_validate(bundle)
    assert bundle["entry"][0]["fullUrl"] == f"https://ehr.example/fhir/Patient/{course.patient_ref}"
    assert len(of_type(bundle, "Appointment")) == played.sessions
    # The test nurse treats the patient: her export names them.
    assert of_type(bundle, "Patient")[0]["name"] == [{"text": course.patient.name}]


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_finds_no_course_of_another_clinic(
    played: Played, db_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "TRDFLOW_TOKEN", await token(db_pool, Role.NURSE, Kind.PERSON, clinic="other-clinic")
    )
    get_settings.cache_clear()

    exported = await cli("fhir", "export", played.course.course_id)

    assert exported.exit_code == 1
    assert "not found" in exported.output and "Patient" not in exported.output


def test_phq9_item_9_is_a_component_of_the_total() -> None:
    chart = CourseChart(
        course_id="c-1",
        patient_ref="ref-1",
        clinic_id="clinic-a",
        indication=Indication.TRD,
        protocol_version=PROTOCOL_VERSION,
        registered_at=datetime(2026, 12, 1, tzinfo=UTC),
        sessions=(),
        readings=(),
        doses=(),
        escalations=(),
        reminders=(),
    )

    answered = phq9(chart, "latest", Score(scale=Scale.PHQ9, total=14, item9=2))
    unanswered = phq9(chart, "baseline", Score(scale=Scale.PHQ9, total=14))

    assert answered.valueInteger == unanswered.valueInteger == 14
    assert answered.code.coding is not None and answered.code.coding[0].code == Loinc.PHQ9_TOTAL
    assert answered.component is not None
    (item9,) = answered.component
    assert item9.code.coding is not None and item9.code.coding[0].code == Loinc.PHQ9_ITEM9
    assert item9.valueInteger == 2
    assert unanswered.component is None
