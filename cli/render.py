"""How the CLI shows courses and sessions. Nothing here shows PHI: statuses carry none."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import typer
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Column, Table
from rich.text import Text

from domain.contract import course_workflow_id
from domain.course import CourseStatus
from domain.eligibility import Eligibility
from domain.escalation import Severity
from domain.scales import Scale
from domain.session import SessionSummary
from store.escalations import EscalationRow

console = Console()

SECONDS_PER_DAY = 86_400
SCALE_LABELS = {Scale.PHQ9: "PHQ-9", Scale.MADRS: "MADRS"}
SEVERITY_STYLES = {Severity.CRITICAL: "bold red", Severity.URGENT: "yellow", Severity.ROUTINE: ""}


def echo_json(value: BaseModel | Sequence[dict[str, Any]]) -> None:
    """Plain JSON on stdout, for scripts: no colour, no wrapping."""
    typer.echo(json.dumps(to_jsonable_python(value), indent=2))


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="minutes")


def named(value: str | None) -> str:
    return "-" if value is None else value.replace("_", " ")


def score(status: CourseStatus, scale: Scale, *, with_baseline: bool = True) -> str:
    latest = status.latest_scores.get(scale)
    if latest is None:
        return "-"
    baseline = status.baseline.get(scale)
    if baseline is None or not with_baseline:
        return str(latest.total)
    return f"{latest.total} (baseline {baseline.total})"


def phase(status: CourseStatus) -> str:
    return named(status.phase.value) + (" (paused)" if status.paused else "")


def status_panel(status: CourseStatus) -> Panel:
    rows = Table.grid(padding=(0, 2))
    rows.add_column(style="bold cyan")
    rows.add_column(overflow="fold")
    factor = status.clock.scale
    clock = "real time" if factor == 1 else f"simulated: a day lasts {SECONDS_PER_DAY * factor:g} s"
    rows.add_row("Patient ref", status.patient_ref)
    rows.add_row("Clinic", status.clinic_id)
    rows.add_row(
        "Indication", f"{named(status.indication.value)} (protocol {status.protocol_version})"
    )
    rows.add_row("Clock", clock)
    rows.add_row("Phase", f"{phase(status)} (run {status.run})")
    rows.add_row("Awaiting", named(status.awaiting))
    rows.add_row("Frequency", named(status.frequency))
    rows.add_row("Sessions dosed", str(status.sessions_done))
    if (current := status.current_session) is not None:
        rows.add_row("Current session", f"#{current.number} at {when(current.scheduled_at)}")
    rows.add_row("Next session", when(status.next_session_at))
    if status.next_check_in_at is not None or status.check_ins_done:
        rows.add_row("Check-ins done", str(status.check_ins_done))
        rows.add_row("Next check-in", when(status.next_check_in_at))
    for scale in Scale:
        if scale in status.latest_scores:
            rows.add_row(SCALE_LABELS[scale], score(status, scale))
    if (gain := status.benefit) is not None:
        verdict = "remission" if gain.remission else "response" if gain.response else "no response"
        rows.add_row("Benefit", f"{verdict} ({gain.reduction:.0%} less than baseline)")
    if (suggestion := status.suggestion) is not None:
        rows.add_row("Suggestion", f"{named(suggestion.frequency.value)}: {suggestion.reason}")
    if status.decision_due_at is not None:
        rows.add_row("Decision due", when(status.decision_due_at))
    if status.relapse_flagged:
        rows.add_row("Relapse", Text("flagged: clinician decision needed", style="bold red"))
    open_escalations = [
        f"{e.severity} {named(e.condition)} ({e.status})" for e in status.open_escalations
    ]
    rows.add_row("Open escalations", ", ".join(open_escalations) or "none")
    if status.final_reason is not None:
        rows.add_row("Outcome", status.final_reason)
    body: RenderableType = rows
    if status.recent_sessions:
        body = Group(rows, Text(), sessions_table(status.recent_sessions))
    return Panel(
        body, title=f"Course {status.course_id}", subtitle=course_workflow_id(status.course_id)
    )


def sessions_table(sessions: Sequence[SessionSummary]) -> Table:
    scheduled = Column("Scheduled", no_wrap=True)
    table = Table("#", "Phase", scheduled, "Outcome", "Dose", "Score", title="Recent sessions")
    for session in sessions:
        table.add_row(*session_cells(session))
    return table


def session_cells(session: SessionSummary) -> tuple[str, ...]:
    taken = session.score
    return (
        str(session.number),
        named(session.phase),
        when(session.scheduled_at),
        named(session.outcome) + (f": {session.reason}" if session.reason else ""),
        "-" if session.dose_mg is None else f"{session.dose_mg} mg",
        "-" if taken is None else f"{SCALE_LABELS[taken.scale]} {taken.total}",
    )


def session_line(session: SessionSummary) -> str:
    number, _, scheduled, outcome, dose, _ = session_cells(session)
    return f"Session {number} ({session.workflow_id}): {scheduled}, outcome {outcome}, dose {dose}"


def eligibility(result: Eligibility) -> Text:
    if result.eligible:
        return Text("Eligible: the course moves on to induction.", style="bold green")
    text = Text("Not eligible: the course ends.\n", style="bold red")
    text.append("\n".join(f"  - {reason}" for reason in result.reasons))
    return text


def escalation_list(rows: Sequence[EscalationRow]) -> Group:
    """Open escalations as listed (the most severe, then the newest, first): a header line,
    the summary, and the id that `trdflow escalation ack` and `resolve` take."""
    blocks: list[RenderableType] = []
    for row in rows:
        course = row.course_id if row.session is None else f"{row.course_id} session {row.session}"
        pages = f"{row.pages} page" + ("" if row.pages == 1 else "s")
        head = Text(row.severity.value.upper(), style=SEVERITY_STYLES[row.severity] or "bold")
        head.append(f"  {row.status.value}  raised {when(row.raised_at)}  course {course}")
        blocks += [
            head,
            Text(f"  {row.summary}"),
            Text(f"  assigned {row.assigned_to or '-'}, {pages}"),
            Text(f"  {row.escalation_id}", "cyan"),
            Text(),
        ]
    return Group(*blocks)
