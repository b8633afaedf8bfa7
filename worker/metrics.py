"""The clinic's own Prometheus metrics: every name, unit and label in one place.

Events are counted where they happen, in the process that sees them (a worker's activities,
the codec server); the clinic's state (open escalations, the outbox, REMS forms, courses by
phase) is counted from PostgreSQL and Temporal when the API is scraped (`api/metrics.py`). A
label holds a level, a severity, a channel, a clinic id or a phase: never PHI, never an id of
a course or a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

METRICS_PATH = "/metrics"
CONTENT_TYPE = CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Seconds: a reading judged or a page sent within a second is the norm; minutes are trouble."""

# --- Events ----------------------------------------------------------------------------------

READINGS_JUDGED = Counter(
    "trdflow_readings_judged_total",
    "Readings a session judged, by the judgement's level and the reading's checkpoint.",
    ["level", "checkpoint"],
)
READING_TO_JUDGEMENT = Histogram(
    "trdflow_reading_to_judgement_seconds",
    "From a reading stored by the API to its session's judgement of it.",
    buckets=LATENCY_BUCKETS,
)
CONDITION_TO_PAGE = Histogram(
    "trdflow_condition_to_page_seconds",
    "From an alert's condition (its raised_at) to its escalation's first page sent.",
    ["severity"],
    buckets=LATENCY_BUCKETS,
)
PAGES = Counter(
    "trdflow_pages_total",
    "Pages asked for, by the channel that took them and the outcome (sent; already_sent: a "
    "retry found it sent; refused: on every channel; nobody_on_call).",
    ["channel", "outcome"],
)
CODEC_PAYLOADS = Counter(
    "trdflow_codec_payloads_total",
    "Payloads the codec server encoded or decoded.",
    ["action"],
)


def exposition() -> bytes:
    """This process's metrics (the events above, and the client library's process metrics)."""
    return generate_latest(REGISTRY)


# --- State, counted at each scrape ------------------------------------------------------------


@dataclass(frozen=True)
class StateGauge:
    name: str
    help: str
    labels: tuple[str, ...]


ESCALATIONS_OPEN = StateGauge(
    "trdflow_escalations_open",
    "Escalations not resolved, by severity, clinic and status (open or acknowledged).",
    ("severity", "clinic", "status"),
)
ESCALATIONS_PAGE_OVERDUE = StateGauge(
    "trdflow_escalations_page_overdue",
    "Open escalations whose latest page has waited longer than its rung's delay without an "
    "acknowledgement: the ladder should have moved on, or has run out.",
    ("severity", "clinic"),
)
ESCALATION_PAGE_WAIT = StateGauge(
    "trdflow_escalation_page_wait_seconds",
    "The longest an open escalation's latest page has waited unacknowledged.",
    ("severity", "clinic"),
)
OUTBOX_PENDING = StateGauge(
    "trdflow_outbox_pending",
    "Outbox rows not yet taken by their provider, by channel.",
    ("channel",),
)
OUTBOX_OLDEST_AGE = StateGauge(
    "trdflow_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox row not yet taken by its provider, by channel.",
    ("channel",),
)
REMS_FORMS_DUE = StateGauge(
    "trdflow_rems_forms_due",
    "REMS monitoring forms not yet accepted by the portal and not yet past their due day.",
    ("clinic",),
)
REMS_FORMS_PAST_DAY_5 = StateGauge(
    "trdflow_rems_forms_past_day_5",
    "REMS monitoring forms not yet accepted, 5 days or more after their session.",
    ("clinic",),
)
REMS_FORMS_OVERDUE = StateGauge(
    "trdflow_rems_forms_overdue",
    "REMS monitoring forms not yet accepted and past their due day.",
    ("clinic",),
)
COURSES = StateGauge(
    "trdflow_courses",
    "Courses by their phase now, ended ones in their final phase (Temporal's visibility).",
    ("phase",),
)
STATE_GAUGES = (
    ESCALATIONS_OPEN,
    ESCALATIONS_PAGE_OVERDUE,
    ESCALATION_PAGE_WAIT,
    OUTBOX_PENDING,
    OUTBOX_OLDEST_AGE,
    REMS_FORMS_DUE,
    REMS_FORMS_PAST_DAY_5,
    REMS_FORMS_OVERDUE,
    COURSES,
)
