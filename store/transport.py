"""Rides home: who drives, whether they were asked, and how the ride was confirmed."""

from __future__ import annotations

from dataclasses import dataclass

from domain.session import TransportConfirmedVia
from store.db import Executor


@dataclass(frozen=True)
class Driver:
    """PHI: the driver's name and phone never leave Postgres except to the SMS provider."""

    name: str
    phone: str
    revision: int
    """Counts the drivers named for the session, so each one is asked once."""


async def arrange_transport(
    db: Executor,
    course_id: str,
    session: int,
    *,
    driver_name: str,
    driver_phone: str,
    arranged_by: str,
) -> int:
    """Name the session's driver; returns the arrangement's revision. Naming another driver
    (another phone) counts a new revision and clears the request and any confirmation, which
    belonged to the previous driver; naming the same one again changes nothing."""
    await db.execute(
        """
        INSERT INTO transport_arrangements
            (course_id, session, driver_name, driver_phone, arranged_by)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (course_id, session) DO UPDATE SET
            driver_name = EXCLUDED.driver_name,
            arranged_by = EXCLUDED.arranged_by,
            arranged_at = now(),
            driver_phone = EXCLUDED.driver_phone,
            revision = transport_arrangements.revision + 1,
            requested_at = NULL,
            request_provider_id = NULL,
            confirmed_at = NULL,
            confirmed_via = NULL,
            confirmed_by = NULL
        WHERE transport_arrangements.driver_phone <> EXCLUDED.driver_phone
        """,
        course_id,
        session,
        driver_name,
        driver_phone,
        arranged_by,
    )
    revision: int = await db.fetchval(
        "SELECT revision FROM transport_arrangements WHERE course_id = $1 AND session = $2",
        course_id,
        session,
    )
    return revision


async def driver(db: Executor, course_id: str, session: int) -> Driver | None:
    row = await db.fetchrow(
        "SELECT driver_name, driver_phone, revision FROM transport_arrangements "
        "WHERE course_id = $1 AND session = $2",
        course_id,
        session,
    )
    if row is None:
        return None
    return Driver(name=row["driver_name"], phone=row["driver_phone"], revision=row["revision"])


async def mark_requested(
    db: Executor, course_id: str, session: int, *, revision: int, provider_id: str | None
) -> None:
    """The driver was sent the request (first time wins; a stale revision changes nothing)."""
    await db.execute(
        """
        UPDATE transport_arrangements
        SET requested_at = COALESCE(requested_at, now()),
            request_provider_id = COALESCE(request_provider_id, $4)
        WHERE course_id = $1 AND session = $2 AND revision = $3
        """,
        course_id,
        session,
        revision,
        provider_id,
    )


async def confirm_transport(
    db: Executor, course_id: str, session: int, *, via: TransportConfirmedVia, by: str
) -> bool:
    """Confirm the session's ride; False if no driver is arranged. A repeat keeps the first
    confirmation."""
    confirmed = await db.fetchval(
        """
        UPDATE transport_arrangements
        SET confirmed_at = COALESCE(confirmed_at, now()),
            confirmed_via = COALESCE(confirmed_via, $3),
            confirmed_by = COALESCE(confirmed_by, $4)
        WHERE course_id = $1 AND session = $2
        RETURNING true
        """,
        course_id,
        session,
        via,
        by,
    )
    return bool(confirmed)


async def confirm_transport_by_driver_phone(db: Executor, phone: str) -> tuple[str, int] | None:
    """A driver replied YES: confirm their latest request still awaiting an answer.

    Returns the (course_id, session) confirmed, or None if that phone has nothing pending.
    """
    row = await db.fetchrow(
        """
        UPDATE transport_arrangements
        SET confirmed_at = now(), confirmed_via = 'driver_sms', confirmed_by = 'driver'
        WHERE (course_id, session) = (
            SELECT course_id, session FROM transport_arrangements
            WHERE driver_phone = $1 AND confirmed_at IS NULL AND requested_at IS NOT NULL
            ORDER BY requested_at DESC
            LIMIT 1
            FOR UPDATE
        )
        RETURNING course_id, session
        """,
        phone,
    )
    return None if row is None else (row["course_id"], row["session"])
