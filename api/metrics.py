"""`GET /metrics`: this process's metrics, and the clinic's state counted at each scrape.

The state (open escalations and their pages, the outbox backlog, REMS forms not yet in, courses
by phase) is read from PostgreSQL and Temporal's visibility when Prometheus asks, so it is never
staler than the scrape. Every API replica reports the same state: dashboards and alerts take
the `max` over instances. A part (PostgreSQL, Temporal) that fails or does not answer within
PROBE_TIMEOUT leaves its gauges without samples for that scrape; the other's are reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

import asyncpg
import structlog
from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from temporalio.client import Client

from api.context import Ctx
from domain.contract import COURSE_PHASE, COURSE_WORKFLOW_TYPE
from domain.course import Phase
from domain.protocol import SessionRules
from store import census
from worker import metrics
from worker.metrics import StateGauge

log = structlog.get_logger(__name__)

router = APIRouter(tags=["metrics"])

PROBE_TIMEOUT = timedelta(seconds=2)
REMS_REMINDER_AFTER = timedelta(days=SessionRules().rems_form_reminder_days)
"""Day 5 after the session, the label's reminder: the alert on forms not in by then."""


@router.get(
    metrics.METRICS_PATH,
    summary="Metrics (Prometheus)",
    description=(
        "This process's metrics and the clinic's state (open escalations, outbox backlog, REMS "
        "forms, courses by phase), in Prometheus' text format. Needs no token: no label holds "
        "PHI."
    ),
    response_class=Response,
)
async def scrape(ctx: Ctx) -> Response:
    state = CollectorRegistry(auto_describe=False)
    state.register(_Families(await clinic_state(ctx.pool, ctx.client)))
    body = metrics.exposition() + generate_latest(state)
    return Response(body, media_type=metrics.CONTENT_TYPE)


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


async def clinic_state(pool: asyncpg.Pool, client: Client) -> list[Metric]:
    families = {gauge: _family(gauge) for gauge in metrics.STATE_GAUGES}
    await asyncio.gather(
        _counted("postgres", lambda: _postgres(pool, families)),
        _counted("temporal", lambda: _courses(client, families[metrics.COURSES])),
    )
    return list(families.values())


async def _postgres(pool: asyncpg.Pool, families: dict[StateGauge, GaugeMetricFamily]) -> None:
    def add(gauge: StateGauge, labels: list[str], value: float) -> None:
        families[gauge].add_metric(labels, value)

    # Every count read before any is reported: a failure midway reports none of them.
    async with pool.acquire() as conn:
        opened = await census.open_escalations(conn)
        waiting = await census.waiting_pages(conn)
        backlogs = await census.outbox_backlog(conn)
        rems_forms = await census.rems_forms_open(conn, REMS_REMINDER_AFTER)
    for row in opened:
        add(metrics.ESCALATIONS_OPEN, [row.severity, row.clinic_id, row.status], row.count)
    for pages in waiting:
        labels = [pages.severity, pages.clinic_id]
        add(metrics.ESCALATIONS_PAGE_OVERDUE, labels, pages.overdue)
        add(metrics.ESCALATION_PAGE_WAIT, labels, pages.longest_wait_s)
    for backlog in backlogs:
        add(metrics.OUTBOX_PENDING, [backlog.channel], backlog.pending)
        add(metrics.OUTBOX_OLDEST_AGE, [backlog.channel], backlog.oldest_age_s)
    for forms in rems_forms:
        add(metrics.REMS_FORMS_DUE, [forms.clinic_id], forms.due)
        add(metrics.REMS_FORMS_PAST_DAY_5, [forms.clinic_id], forms.past_reminder)
        add(metrics.REMS_FORMS_OVERDUE, [forms.clinic_id], forms.overdue)


async def _courses(client: Client, courses: GaugeMetricFamily) -> None:
    """Each course once, in its latest run's phase: one count per phase (visibility groups
    by status only)."""

    async def count(phase: Phase) -> int:
        query = (
            f"WorkflowType = '{COURSE_WORKFLOW_TYPE}' AND ExecutionStatus != 'ContinuedAsNew' "
            f"AND {COURSE_PHASE.name} = '{phase.value}'"
        )
        return (await client.count_workflows(query, rpc_timeout=PROBE_TIMEOUT)).count

    counts = await asyncio.gather(*(count(phase) for phase in Phase))
    for phase, counted in zip(Phase, counts, strict=True):
        courses.add_metric([phase.value], counted)


async def _counted(part: str, count: Callable[[], Awaitable[None]]) -> None:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT.total_seconds()):
            await count()
    except Exception as err:  # whatever the failure, the other part's gauges still count
        log.warning("metrics_part_unavailable", part=part, error=type(err).__name__)


def _family(gauge: StateGauge) -> GaugeMetricFamily:
    return GaugeMetricFamily(gauge.name, gauge.help, labels=gauge.labels)
