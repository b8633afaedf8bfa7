"""Sequences the session core's stateful test made interesting, played twice: on the pure
`SessionCore`, and through the HTTP API on the real `DosingSession` (time-skipping server,
real PostgreSQL). Both must raise the same escalations, give the same refusals word for word
and end in the same stage: the workflow adds nothing to the core's decisions and loses none."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest

from domain.escalation import Severity
from domain.protocol import DosingRules, SessionRules
from domain.session import Administration, Discharge, HoldDecision, Stage, TransportConfirmedVia
from domain.session_core import Escalate, RoomTimes, SessionCore, SessionState
from domain.vitals import VitalSigns
from tests.sessions import (
    BETWEEN_DEVICES,
    DOCTOR,
    LOT,
    NURSE,
    STABLE,
    InRoom,
    eventually,
    skip_to_check_in,
    sleep_until,
)

pytestmark = pytest.mark.usefixtures("worker")

RULES = SessionRules()
NOTE = "repeat reading reviewed at the bedside"


@dataclass(frozen=True)
class Reading:
    signs: dict[str, int]


@dataclass(frozen=True)
class Wait:
    minutes: int


@dataclass(frozen=True)
class Decide:
    proceed: bool


@dataclass(frozen=True)
class Dose:
    gap_minutes: int = BETWEEN_DEVICES // timedelta(minutes=1)
    """Between the two devices, the last one used now."""


@dataclass(frozen=True)
class Leave:
    """A discharge attempt."""


Step = Reading | Wait | Decide | Dose | Leave


@dataclass
class Outcome:
    raised: dict[str, Severity] = field(default_factory=dict)
    """Each occurrence escalated (its dedup key), with the severity it opened with."""
    refusals: list[str | None] = field(default_factory=list)
    """Each dose or discharge attempt's refusal (None: accepted), in order."""
    stage: Stage = Stage.SCHEDULED


FULL = {"systolic": 128, "diastolic": 82, "heart_rate": 76, "spo2": 98}
# Minutes chosen off the session's own timers (the 40-minute BP due, its reminders 10 minutes
# on, the end of monitoring at 120): a message racing the task a timer fires is lost by the
# time-skipping server. A sequence stops where the session does: a message after its end is
# refused at the API's door, before any decision of the core.
SEQUENCES: dict[str, list[Step]] = {
    # The review's first example begins with a critical cuff reading before the dose: not
    # dosed, and the session is over (its oximeter reading after would be refused).
    "critical_bp_before_the_dose": [
        Reading({"systolic": 212, "diastolic": 124, "heart_rate": 80, "spo2": 97}),
    ],
    # Two readings of 180/110 or more 5 minutes apart while held: critical, not dosed.
    "severe_twice_while_held": [
        Reading({"systolic": 184, "diastolic": 112, "heart_rate": 80, "spo2": 97}),
        Wait(6),
        Reading({"systolic": 182, "diastolic": 111}),
    ],
    # A proceed decision answers the readings before it, not a higher one after it.
    "a_higher_reading_after_the_proceed": [
        Reading({"systolic": 150, "diastolic": 94, "heart_rate": 80, "spo2": 97}),
        Wait(3),
        Decide(proceed=True),
        Wait(3),
        Reading({"systolic": 156, "diastolic": 96}),
        Dose(),
        Decide(proceed=True),
        Dose(),
    ],
    # Devices used too close together, then as the label says; discharge tried early, then
    # after the two hours.
    "devices_too_close_then_five_minutes_apart": [
        Reading(FULL),
        Wait(7),
        Dose(gap_minutes=3),
        Dose(),
        Wait(38),
        Reading(STABLE),
        Wait(45),
        Leave(),
        Wait(41),
        Reading(STABLE),
        Leave(),
    ],
    # A sustained heart rate above 120 after the dose is urgent: no discharge while it is open.
    "sustained_tachycardia_blocks_discharge": [
        Reading(FULL),
        Wait(7),
        Dose(),
        Wait(38),
        Reading({**STABLE, "heart_rate": 126}),
        Wait(3),
        Reading({**STABLE, "heart_rate": 128}),
        Wait(83),
        Leave(),
    ],
}


def administration(now: datetime, gap_minutes: int) -> Administration:
    devices = (now - timedelta(minutes=gap_minutes), now)
    return Administration(dose_mg=56, lot=LOT, device_times=devices, by="nurse-test")


def on_the_core(steps: list[Step], check_in_at: datetime, owner: str) -> Outcome:
    """The sequence on the pure core, fed as `DosingSession` feeds it, its monitoring timers
    included (the sequences give no pre-dose or hold timer time to fire)."""
    core = SessionCore(
        SessionState(scheduled_at=check_in_at), RULES.vitals, RoomTimes.of(RULES, DosingRules())
    )
    core.transport_confirmed(TransportConfirmedVia.STAFF)
    timers = MonitoringTimers(core)
    now, next_id, outcome = check_in_at, 1, Outcome()
    core.check_in("nurse-test", now)
    for step in steps:
        match step:
            case Reading(signs):
                core.reading_arrived(next_id, VitalSigns(taken_at=now, **signs), now)
                next_id += 1
            case Wait(minutes):
                now += timedelta(minutes=minutes)
                timers.fire_until(now)
            case Decide(proceed):
                core.hold_decided(
                    HoldDecision(proceed=proceed, clinician="dr-test", note=NOTE), now
                )
            case Dose(gap):
                dose = administration(now, gap)
                refusal = core.dose_refusal(dose, now)
                outcome.refusals.append(refusal)
                if refusal is None:
                    core.dosed(dose, now)
            case Leave():
                refusal = core.discharge_refusal(now)
                outcome.refusals.append(refusal)
                if refusal is None:
                    core.discharged(Discharge(by="nurse-test"))
        for command in core.take_commands():
            if isinstance(command, Escalate):
                # The alert row keeps the severity its occurrence opened with.
                outcome.raised.setdefault(command.dedup_key(owner), command.severity)
    outcome.stage = core.state.stage
    return outcome


@dataclass
class MonitoringTimers:
    """`DosingSession._monitor`'s timers: the end of the 2 hours, and the reminders of a
    blood pressure overdue (counted afresh for each one due)."""

    core: SessionCore
    step: int = 0
    due: datetime | None = None

    def fire_until(self, until: datetime) -> None:
        core = self.core
        while True:
            if core.state.bp_due_at != self.due:
                self.step, self.due = 0, core.state.bp_due_at
            ends, overdue = core.monitoring_ends_at(), core.bp_overdue_at(self.step)
            if ends is not None and ends <= until:
                core.monitoring_ended()
            elif overdue is not None and overdue <= until:
                core.bp_overdue(self.step)
                self.step += 1
            else:
                return


async def through_the_api(
    room: InRoom, db_pool: asyncpg.Pool, steps: list[Step], expected: Outcome
) -> Outcome:
    outcome = Outcome()
    for step in steps:
        match step:
            case Reading(signs):
                await room.until_judged(await room.vitals(NURSE, **signs))
            case Wait(minutes):
                await sleep_until(
                    room.env, await room.env.get_current_time() + timedelta(minutes=minutes)
                )
            case Decide(proceed):
                body = {"proceed": proceed, "note": NOTE}
                await room.act("hold-decision", body, headers=DOCTOR)
            case Dose(gap):
                dose = administration(await room.env.get_current_time(), gap)
                body = dose.model_dump(mode="json", exclude={"by"})
                outcome.refusals.append(refusal_of(await room.send("administration", body)))
            case Leave():
                outcome.refusals.append(refusal_of(await room.send("discharge", {})))
    outcome.stage = (await room.details()).stage
    outcome.raised = await alerts_raised(room, db_pool, expected.raised)
    return outcome


async def alerts_raised(
    room: InRoom, db_pool: asyncpg.Pool, expected: dict[str, Severity]
) -> dict[str, Severity]:
    """The session's alerts as PostgreSQL holds them, once those the core raised are in (the
    workflow carries its commands out after it answers; a lost one times out)."""

    async def rows() -> dict[str, Severity] | None:
        found = await db_pool.fetch(
            "SELECT dedup_key, severity FROM alerts WHERE starts_with(dedup_key, $1)",
            f"{room.session.workflow_id}/",
        )
        raised = {row["dedup_key"]: Severity(row["severity"]) for row in found}
        return raised if raised.keys() >= expected.keys() else None

    return await eventually(rows, polls=150)


def refusal_of(response: httpx.Response) -> str | None:
    if response.status_code == 200:
        return None
    assert response.status_code == 409, response.text
    detail: str = response.json()["detail"]
    return detail


@pytest.mark.parametrize("name", SEQUENCES)
async def test_the_session_decides_as_its_core(
    room: InRoom, db_pool: asyncpg.Pool, name: str
) -> None:
    steps = SEQUENCES[name]
    await room.arrange_ride(confirm=True)
    await skip_to_check_in(room.env, room.session)
    check_in_at = await room.env.get_current_time()
    await room.act("check-in")

    pure = on_the_core(steps, check_in_at, room.session.workflow_id)
    real = await through_the_api(room, db_pool, steps, pure)

    assert real == pure
    refused = [refusal for refusal in pure.refusals if refusal is not None]
    assert pure.raised or refused, "a sequence that raises and refuses nothing proves little"
