"""The `trdflow` command line: schemas, input validation, help, and a course driven end to end."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import typer
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from typer.core import TyperGroup

from cli.course import visibility_query
from cli.handles import course_handle
from cli.localstack import quiet
from cli.main import app
from cli.schemas import schema_files
from cli.simulation import PERSONAS, assessment_for
from domain.access import Identity, Kind, Role
from domain.conditions import Condition
from domain.contract import CLINIC_ID, COURSE_PHASE, PATIENT_REF, course_workflow_id
from domain.escalation import (
    AckChannel,
    EscalationRecord,
    EscalationStatus,
    OnCallRole,
    Reassign,
    Severity,
    Trigger,
    escalation_workflow_id,
)
from domain.protocol import PROTOCOL_VERSION, Protocol
from store import tokens
from store.escalations import upsert_from_record
from store.oncall import on_call
from store.patients import claim_course
from tests.cli_runs import acting_as, cli, invoke
from tests.console_rows import seed
from tests.escalations import details, nurse_on_call, paged_escalation
from worker.settings import get_settings
from workflows.course import TreatmentCourse

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
PHONE = "+15550100999"


def start_args(course_id: str, **overrides: str) -> list[str]:
    options = {
        "course-id": course_id,
        "patient-ref": f"ref-{course_id}",
        "clinic-id": "clinic-a",
        "name": "Alex Example",
        "phone": PHONE,
        "dob": "1980-05-17",
        **overrides,
    }
    return ["course", "start", *(f"--{flag}={value}" for flag, value in options.items())]


# --- Schemas ---------------------------------------------------------------------------------


def test_committed_schemas_match_the_models() -> None:
    result = invoke("schemas", "export", "--check", "--dir", str(SCHEMAS))
    assert result.exit_code == 0, result.output


def test_schema_check_fails_on_drift_and_export_repairs_it(tmp_path: Path) -> None:
    assert invoke("schemas", "export", "--dir", str(tmp_path)).exit_code == 0
    (tmp_path / "Pause.json").write_text("{}\n")
    (tmp_path / "Resume.json").unlink()
    (tmp_path / "Gone.json").write_text("{}\n")

    check = invoke("schemas", "export", "--check", "--dir", str(tmp_path))
    assert check.exit_code == 1
    for name in ("Pause.json", "Resume.json", "Gone.json"):
        assert name in check.output

    assert invoke("schemas", "export", "--dir", str(tmp_path)).exit_code == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(schema_files())
    assert invoke("schemas", "export", "--check", "--dir", str(tmp_path)).exit_code == 0


def test_schema_files_are_sorted_indented_and_end_with_a_newline() -> None:
    text = schema_files()["CourseStatus.json"]
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


# --- Input validation: exit 2, a clear message, nothing started ------------------------------


@pytest.fixture
def unreachable_temporal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to reach Temporal would fail with exit 1, not the 2 of bad input."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("unreachable_temporal")
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"phone": "555-0100"}, "patient.phone: String should match pattern"),
        ({"timezone": "Mars/Olympus"}, "clinic_timezone: Value error, unknown time zone"),
        ({"dob": "17/05/1980"}, "patient.date_of_birth"),
        ({"time-scale": "0"}, "time_scale: Input should be greater than 0"),
    ],
)
def test_invalid_start_options_exit_2_with_the_field_and_reason(
    overrides: dict[str, str], expected: str
) -> None:
    result = invoke(*start_args("c-bad", **overrides))
    assert result.exit_code == 2, result.output
    assert "invalid CourseStart from the options" in result.output
    assert expected in " ".join(result.output.split())
    assert "cannot reach Temporal" not in result.output


@pytest.mark.usefixtures("unreachable_temporal")
def test_validation_errors_do_not_echo_phi() -> None:
    result = invoke(*start_args("c-bad", phone="555-0100", dob="1980-13-45"))
    assert result.exit_code == 2
    assert "555-0100" not in result.output
    assert "1980-13-45" not in result.output


@pytest.mark.usefixtures("unreachable_temporal")
def test_a_file_and_options_together_are_refused(tmp_path: Path) -> None:
    message = tmp_path / "pause.json"
    message.write_text(json.dumps({"reason": "travel", "requested_by": "nurse"}))
    result = invoke("course", "pause", "c-1", "--file", str(message), "--by", "nurse")
    assert result.exit_code == 2
    assert "either --file or the options" in result.output


@pytest.mark.usefixtures("unreachable_temporal")
def test_an_event_with_a_missing_field_names_it() -> None:
    result = invoke("course", "review", "c-1", "--continue", "--clinician", "dr-a")
    assert result.exit_code == 2
    assert "invalid ReviewDecision from the options" in result.output
    assert "note: Field required" in result.output


def test_ids_that_cannot_be_workflow_ids_are_refused() -> None:
    assert invoke("course", "status", "Not An Id").exit_code == 2
    assert invoke("course", "list", "--clinic", "x' OR '1'='1").exit_code == 2


# --- Help ------------------------------------------------------------------------------------


def command_paths(command: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every group and command under `command`, as the words that invoke it."""
    paths = [path]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            paths += command_paths(sub, (*path, name))
    return paths


@pytest.mark.parametrize(
    "path", command_paths(typer.main.get_command(app)), ids=lambda path: " ".join(path) or "-"
)
def test_every_group_and_command_has_help(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


# --- Against the time-skipping server, with the project's worker ----------------------------


async def exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


@pytest.mark.usefixtures("cli_env", "worker")
async def test_a_course_started_read_and_assessed_from_the_cli(
    client: Client, db_pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    course_id = f"cli-{uuid.uuid4().hex[:8]}"
    workflow_id = course_workflow_id(course_id)

    by_nurse = await cli(*start_args(course_id))  # people do not start courses
    acting_as(monkeypatch, "gateway-test")  # the clinic's EHR does
    started = await cli(*start_args(course_id))
    assert by_nurse.exit_code == 3 and "may start_course" in by_nurse.output
    assert started.exit_code == 0, started.output
    assert PHONE not in started.output and "Alex Example" not in started.output
    description = await client.get_workflow_handle(workflow_id).describe()
    attributes = description.typed_search_attributes
    assert attributes.get(COURSE_PHASE) == "assessment"
    assert attributes.get(CLINIC_ID) == "clinic-a"
    assert attributes.get(PATIENT_REF) == f"ref-{course_id}"

    again = await cli(*start_args(course_id))
    assert again.exit_code == 1
    assert f"{workflow_id} already exists" in again.output
    acting_as(monkeypatch, "nurse-test")

    status = await cli("course", "status", course_id, "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["awaiting"] == "assessment"

    report = tmp_path / "assessment.json"
    report.write_text(assessment_for(PERSONAS["responder"]).model_dump_json())
    assessed = await cli("course", "assess", course_id, "--file", str(report))
    assert assessed.exit_code == 0, assessed.output
    assert "Eligible" in assessed.output

    rejected = await cli("course", "assess", course_id, "--file", str(report))
    assert rejected.exit_code == 1
    assert "rejected: the course is in" in rejected.output

    session = await first_session(client, course_id)
    as_other = f"--session {session} --outcome missed --by nurse-a --json"
    refused = await cli("session", "outcome", course_id, *as_other.split())
    options = f"--session {session} --outcome missed --json"
    missed = await cli("session", "outcome", course_id, *options.split())
    assert refused.exit_code == 2 and "--reported-by must be you (nurse-test)" in refused.output
    assert missed.exit_code == 0, missed.output
    assert json.loads(missed.stdout)["outcome"] == "missed"
    audited = await db_pool.fetch(
        "SELECT actor, actor_kind, action, stage FROM audit_log WHERE course_id = $1"
        " AND action LIKE 'cli.%' ORDER BY id",
        course_id,
    )
    assert [tuple(row.values()) for row in audited] == [
        ("gateway-test", "system", "cli.course_start_requested", "done"),
        ("gateway-test", "system", "cli.course_started", "done"),
        ("gateway-test", "system", "cli.course_start_requested", "done"),  # the second start
        ("nurse-test", "person", "cli.course_read", "done"),
        ("nurse-test", "person", "cli.submit_assessment", "intent"),
        ("nurse-test", "person", "cli.submit_assessment", "done"),
        ("nurse-test", "person", "cli.submit_assessment", "intent"),
        ("nurse-test", "person", "cli.submit_assessment", "refused"),
        ("nurse-test", "person", "cli.report_outcome", "intent"),
        ("nurse-test", "person", "cli.report_outcome", "done"),
    ]


async def first_session(client: Client, course_id: str) -> int:
    """The number of the session the course schedules after its assessment."""
    handle = course_handle(client, course_id)
    for _ in range(100):
        current = (await handle.query(TreatmentCourse.status)).current_session
        if current is not None:
            return current.number
        await asyncio.sleep(0.05)
    raise AssertionError("no session was scheduled")


@pytest.mark.usefixtures("cli_env")
async def test_a_rejected_start_starts_nothing(client: Client) -> None:
    course_id = f"cli-{uuid.uuid4().hex[:8]}"
    result = await cli(*start_args(course_id, timezone="Mars/Olympus"))
    assert result.exit_code == 2
    assert not await exists(client, course_workflow_id(course_id))


@pytest.mark.usefixtures("cli_env")
async def test_a_compressed_clock_needs_simulation_allowed(client: Client) -> None:
    course_id = f"cli-{uuid.uuid4().hex[:8]}"
    result = await cli(*start_args(course_id, **{"time-scale": "0.001"}))
    assert result.exit_code == 2
    assert "TRDFLOW_ALLOW_SIMULATION" in result.output
    assert not await exists(client, course_workflow_id(course_id))


# --- Escalations and the on-call schedule, in PostgreSQL -------------------------------------


@pytest.mark.usefixtures("cli_db")
async def test_oncall_seed_staffs_each_role_around_the_clock(db_pool: asyncpg.Pool) -> None:
    clinic = f"cli-{uuid.uuid4().hex[:8]}"
    first = await cli("oncall", "seed", "--clinic", clinic)
    again = await cli("oncall", "seed", "--clinic", clinic)

    assert first.exit_code == again.exit_code == 0, first.output
    assert "+15550101001" in first.output
    for role in OnCallRole:
        for at in (datetime(2026, 1, 1, 3, tzinfo=UTC), datetime(2031, 7, 4, 15, tzinfo=UTC)):
            entry = await on_call(db_pool, clinic, role, at)
            assert entry is not None and entry.staff_id.endswith(clinic)
    rows = await db_pool.fetchval(
        "SELECT count(*) FROM on_call_schedule WHERE clinic_id = $1", clinic
    )
    assert rows == 3


def test_listing_escalations_needs_a_reachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://trdflow@127.0.0.1:1/trdflow")
    get_settings.cache_clear()
    try:
        result = invoke("escalation", "list")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "cannot reach PostgreSQL" in result.output


@pytest.mark.usefixtures("cli_db")
async def test_open_escalations_are_listed_most_severe_first(db_pool: asyncpg.Pool) -> None:
    clinic = f"cli-{uuid.uuid4().hex[:8]}"
    raised_at = datetime(2026, 3, 3, 15, tzinfo=UTC)
    ids = []
    conditions = {
        Severity.URGENT: Condition.HEART_RATE_SUSTAINED,
        Severity.CRITICAL: Condition.SPO2_LOW,
    }
    for severity, minutes in ((Severity.URGENT, 5), (Severity.CRITICAL, 0)):
        trigger = Trigger(
            dedup_key=f"course-{clinic}/session-1/{severity}",
            course_id=clinic,
            clinic_id=clinic,
            session=1,
            severity=severity,
            condition=conditions[severity],
            summary=f"A {severity} test condition",
            raised_at=raised_at + timedelta(minutes=minutes),
        )
        escalation_id = escalation_workflow_id(trigger.dedup_key)
        ids.append(escalation_id)
        record = EscalationRecord(
            escalation_id=escalation_id,
            trigger=trigger,
            status=EscalationStatus.OPEN,
            step="raised",
            actor="system",
            at=trigger.raised_at,
        )
        await upsert_from_record(db_pool, record)

    listed = await cli("escalation", "list", "--clinic", clinic, "--json")
    table = await cli("escalation", "list", "--clinic", clinic)
    empty = await cli("escalation", "list", "--clinic", f"{clinic}-none")

    assert listed.exit_code == table.exit_code == empty.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [row["escalation_id"] for row in rows] == ids[::-1]
    assert (rows[0]["severity"], rows[0]["status"], rows[0]["pages"]) == ("critical", "open", 0)
    assert "CRITICAL  open" in table.output and "A urgent test condition" in table.output
    assert table.output.index(ids[1]) < table.output.index(ids[0])
    assert "No open escalations." in empty.output


@pytest.mark.usefixtures("cli_env", "cli_db", "worker")
async def test_an_escalation_acknowledged_and_resolved_from_the_cli(
    client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    escalation_id = paged.handle.id

    listed = await cli("escalation", "list", "--clinic", paged.trigger.clinic_id, "--json")
    assert listed.exit_code == 0, listed.output
    assert [row["escalation_id"] for row in json.loads(listed.stdout)] == [escalation_id]

    acked = await cli("escalation", "ack", escalation_id)
    assert acked.exit_code == 0, acked.output
    state = await details(paged.handle)
    assert state.acknowledged is not None
    assert (state.acknowledged.by, state.acknowledged.via) == ("nurse-test", AckChannel.CLI)

    no_note = await cli("escalation", "resolve", escalation_id)
    assert no_note.exit_code == 2
    assert "note: Field required" in no_note.output

    note = "Repeat BP settled; stayed for observation"
    resolved = await cli("escalation", "resolve", escalation_id, "--note", note)
    assert resolved.exit_code == 0, resolved.output
    state = await details(paged.handle)
    assert state.status is EscalationStatus.RESOLVED
    assert state.resolved is not None and state.resolved.note == note


@pytest.mark.usefixtures("cli_env", "cli_db", "worker")
async def test_an_escalation_is_reassigned_from_the_cli_only_to_someone_on_call_there(
    client: Client, db_pool: asyncpg.Pool
) -> None:
    paged = await paged_escalation(client, db_pool)
    escalation_id = paged.handle.id
    psychiatrist = f"psych-{uuid.uuid4().hex[:8]}"
    await nurse_on_call(db_pool, paged.trigger.clinic_id, psychiatrist, OnCallRole.PSYCHIATRIST)
    elsewhere = f"psych-{uuid.uuid4().hex[:8]}"
    await nurse_on_call(db_pool, f"{paged.trigger.clinic_id}-b", elsewhere, OnCallRole.PSYCHIATRIST)
    reassign = ("escalation", "reassign", escalation_id, "--to")

    refused = [
        await cli(*reassign, elsewhere),
        await cli(*reassign, psychiatrist, "--role", OnCallRole.NURSE.value),
    ]
    reassigned = await cli(*reassign, psychiatrist)

    assert [r.exit_code for r in refused] == [2, 2]
    assert f"{elsewhere} is not on call at this clinic now" in refused[0].output
    assert f"{psychiatrist} is on call at this clinic now in another role" in refused[1].output
    assert reassigned.exit_code == 0, reassigned.output
    await quiet(client, escalation_id)
    state = await details(paged.handle)
    # Sent as the token's holder, in the role they are on call in.
    assert state.reassigned == Reassign(
        by="nurse-test", to_staff=psychiatrist, to_role=OnCallRole.PSYCHIATRIST
    )
    assert [(p.attempt, p.staff_id) for p in state.pages][1:] == [(2, psychiatrist)]
    stages = await db_pool.fetch(
        "SELECT stage FROM audit_log WHERE action = 'cli.reassign'"
        " AND details->>'workflow_id' = $1 ORDER BY id",
        escalation_id,
    )
    assert [row["stage"] for row in stages] == ["intent", "done"]  # nothing for the refused


# --- Clinic protocols, in PostgreSQL ---------------------------------------------------------


@pytest.mark.usefixtures("cli_db")
async def test_a_protocol_published_from_the_cli_is_listed_and_shown(tmp_path: Path) -> None:
    clinic = f"cli-{uuid.uuid4().hex[:8]}"
    overrides = tmp_path / "stricter.json"
    overrides.write_text(json.dumps({"session": {"min_monitoring_minutes": 150}}))
    publish = ("protocol", "publish", clinic, "--file", str(overrides), "--by", "dr-cli")

    first = await cli(*publish, "--version", "2027-01")
    again = await cli(*publish, "--version", "2027-01")
    listed = await cli("protocol", "list", clinic)
    shown = await cli("protocol", "show", clinic)

    assert first.exit_code == again.exit_code == listed.exit_code == shown.exit_code == 0
    assert f"{clinic} now runs protocol 2027-01" in first.output
    assert "already published 2027-01" in again.output
    assert "2027-01" in listed.output and "dr-cli" in listed.output
    protocol = Protocol.model_validate_json(shown.output)
    assert (protocol.version, protocol.session.min_monitoring_minutes) == ("2027-01", 150)


@pytest.mark.usefixtures("cli_db")
@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (
            {"session": {"min_monitoring_minutes": 0}},
            "session.min_monitoring_minutes: Input should be greater than or equal to 120",
        ),
        ({"dosing": {"first_dose_mg": 280}}, "dosing.first_dose_mg: Input should be less than"),
        (
            {"session": {"vitals": {"critical_spo2_below": 20}}},
            "session.vitals.critical_spo2_below: Input should be greater than or equal to 90",
        ),
    ],
)
async def test_a_protocol_beyond_the_labels_bounds_is_refused_naming_the_bound(
    tmp_path: Path, db_pool: asyncpg.Pool, overrides: dict[str, Any], named: str
) -> None:
    clinic = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "looser.json"
    path.write_text(json.dumps(overrides))

    result = await cli(
        "protocol", "publish", clinic, "--file", str(path), "--version", "v1", "--by", "dr-cli"
    )

    assert result.exit_code == 2
    assert named in " ".join(result.output.split())
    published = "SELECT count(*) FROM clinic_protocols WHERE clinic_id = $1"
    assert await db_pool.fetchval(published, clinic) == 0


@pytest.mark.usefixtures("cli_db")
async def test_a_clinic_without_a_protocol_shows_the_labels() -> None:
    clinic = f"cli-{uuid.uuid4().hex[:8]}"

    listed = await cli("protocol", "list", clinic)
    shown = await cli("protocol", "show", clinic)

    assert f"runs the label's {PROTOCOL_VERSION}" in " ".join(listed.output.split())
    assert Protocol.model_validate_json(shown.output) == Protocol()


# --- Tokens ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("cli_db")
async def test_tokens_issue_list_and_revoke_audited_and_the_secret_shown_once(
    db_pool: asyncpg.Pool,
) -> None:
    actor = f"nurse-{uuid.uuid4().hex[:8]}"
    issued = await cli(
        "tokens", "issue", actor, "--kind", "person", "--role", "nurse",
        "--clinic", "clinic-a", "--clinic", "clinic-b", "--by", "admin-1", "--days", "7", "--json",
    )  # fmt: skip
    assert issued.exit_code == 0, issued.output
    [token] = json.loads(issued.output)
    found = await tokens.identify(db_pool, token["token"])
    assert found is not None
    assert found[1].clinics == {"clinic-a", "clinic-b"} and found[1].roles == {Role.NURSE}

    listed = await cli("tokens", "list", "--json")
    revoked = await cli("tokens", "revoke", "--actor", actor, "--by", "admin-1")
    nothing = await cli("tokens", "revoke", token["token_id"], "--by", "admin-1")
    wrong = await cli(
        "tokens", "issue", actor, "--kind", "person", "--role", "ehr",
        "--clinic", "clinic-a", "--by", "admin-1",
    )  # fmt: skip

    assert token["token_id"] in listed.output and actor in listed.output
    assert token["token"].removeprefix(f"trd_{token['token_id']}_") not in listed.output
    assert revoked.exit_code == 0 and token["token_id"] in revoked.output
    assert await tokens.identify(db_pool, token["token"]) is None
    assert nothing.exit_code == 1 and "nothing was revoked" in nothing.output
    assert wrong.exit_code == 2 and "cannot hold" in wrong.output
    audited = await db_pool.fetch(
        "SELECT action FROM audit_log WHERE actor = 'admin-1' AND details->>'token_id' = $1"
        " ORDER BY id",
        token["token_id"],
    )
    assert [row["action"] for row in audited] == ["token.issued", "token.revoked"]


@pytest.mark.usefixtures("cli_db")
async def test_the_cli_reads_and_acts_within_its_callers_clinics_only(
    db_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    course_id = f"cli-scope-{uuid.uuid4().hex[:6]}"
    await claim_course(db_pool, course_id, "clinic-a")
    escalation_id = await seed(db_pool, Severity.URGENT, 1)  # the console clinic's
    outsider = Identity(
        actor="nurse-elsewhere", kind=Kind.PERSON, roles=frozenset({Role.NURSE}),
        clinics=frozenset({"clinic-b"}),
    )  # fmt: skip
    issued = await tokens.issue(db_pool, outsider, timedelta(days=1), "tests")
    monkeypatch.setenv("TRDFLOW_TOKEN", issued.token)
    get_settings.cache_clear()

    status = await cli("course", "status", course_id)
    listed = await cli("escalation", "list", "--json")
    acked = await cli("escalation", "ack", escalation_id)
    scored = await cli("course", "score", course_id, "--total", "9", "--item9", "0")

    assert (status.exit_code, acked.exit_code, scored.exit_code) == (1, 1, 1)
    assert f"course-{course_id} not found" in status.output
    assert f"{escalation_id} not found" in acked.output
    assert escalation_id not in listed.output
    assert (
        await db_pool.fetchval("SELECT count(*) FROM audit_log WHERE actor = 'nurse-elsewhere'")
        == 0
    )
    assert "ClinicId IN ('clinic-b')" in visibility_query(None, None, outsider.clinic_filter)
