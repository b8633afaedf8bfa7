"""`trdflow ui-views`: the Temporal Web UI's lists an operator works from, as links.

Each view is a visibility query over the contract's search attributes (README, "The Temporal
UI"); the link opens the UI's workflow list with it. Nothing is read from Temporal here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

import typer

from cli import options
from cli.render import console, echo_json
from domain.contract import (
    CLINIC_ID,
    COURSE_PHASE,
    COURSE_WORKFLOW_TYPE,
    ESCALATION_WORKFLOW_TYPE,
    NEXT_SESSION_AT,
    OPEN_ESCALATIONS,
)
from domain.course import Phase
from worker.settings import Settings, get_settings

RUNNING = "ExecutionStatus = 'Running'"
ENDED_BADLY = ("Failed", "Terminated", "TimedOut")
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class UiView:
    name: str
    query: str
    url: str


def ui_views(settings: Settings, clinic: str | None, day: date, timezone: str) -> list[UiView]:
    """The operator's views, for one clinic's courses (and its open escalations besides every
    clinic's) or every clinic's; "today" is `day` in `timezone`. Only validated values reach a
    query (the ref pattern, enums): no injection."""
    courses = f"WorkflowType = '{COURSE_WORKFLOW_TYPE}' AND {RUNNING}"
    escalations = f"WorkflowType = '{ESCALATION_WORKFLOW_TYPE}' AND {RUNNING}"
    clinics_escalations = []
    if clinic is not None:
        at_clinic = f" AND {CLINIC_ID.name} = '{options.ref(clinic)}'"
        courses += at_clinic
        # Escalations opened before they carried a clinic are in the every-clinic view only.
        clinics_escalations = [(f"Open escalations at {clinic}", escalations + at_clinic)]
    start = datetime.combine(day, time(), ZoneInfo(timezone))
    next_at = NEXT_SESSION_AT.name
    today = f"{next_at} >= '{_instant(start)}' AND {next_at} < '{_instant(start + ONE_DAY)}'"
    ended_badly = " OR ".join(f"ExecutionStatus = '{status}'" for status in ENDED_BADLY)
    views = [
        ("Active courses", courses),
        *(
            (f"Courses in {phase.value}", f"{courses} AND {COURSE_PHASE.name} = '{phase.value}'")
            for phase in Phase
            if not phase.is_final
        ),
        (f"Next session on {day.isoformat()} ({timezone})", f"{courses} AND {today}"),
        ("Courses with open escalations", f"{courses} AND {OPEN_ESCALATIONS.name} > 0"),
        *clinics_escalations,
        ("Open escalations (every clinic)", escalations),
        ("Sessions under way", f"WorkflowType = 'DosingSession' AND {RUNNING}"),
        ("REMS forms not filed yet", f"WorkflowType = 'RemsFiling' AND {RUNNING}"),
        ("Failed, terminated or timed out", f"({ended_badly})"),
    ]
    return [UiView(name, query, _link(settings, query)) for name, query in views]


def _instant(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def _link(settings: Settings, query: str) -> str:
    namespace = quote(settings.temporal_namespace, safe="")
    return f"{settings.ui_origin}/namespaces/{namespace}/workflows?query={quote(query, safe='')}"


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ValueError, KeyError) as err:
        raise typer.BadParameter(f"not an IANA time zone: {value}") from err
    return value


def command(
    clinic: Annotated[
        str | None,
        typer.Option(
            help="Only this clinic's courses; adds a view of its open escalations.",
            callback=options.ref,
        ),
    ] = None,
    day: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="The day of 'next session' [default: today]."),
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="The IANA zone the day is in.", callback=_zone)
    ] = "UTC",
    as_json: options.Json = False,
) -> None:
    """Print the Temporal Web UI's lists an operator uses (courses by phase and clinic, next
    session today, open escalations...) as links (TRDFLOW_UI_ORIGIN, TEMPORAL_NAMESPACE)."""
    chosen = day.date() if day else datetime.now(ZoneInfo(timezone)).date()
    views = ui_views(get_settings(), clinic, chosen, timezone)
    if as_json:
        echo_json([asdict(view) for view in views])
        return
    for view in views:
        console.print(f"{view.name}\n  {view.url}", soft_wrap=True, highlight=False, markup=False)
