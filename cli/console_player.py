"""The simulated on-call nurse at the on-call console, used as a person uses it: she signs in
with her staff token, finds the escalation she was paged for in the console's list,
acknowledges it, and resolves it with a note once the patient is stable. Every step is one of
the console's own routes, so it is audited as hers.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx

from cli.room import PATIENCE, ApiRefusal, Stalled

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
LIST_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Handled:
    """An escalation the nurse answered, as the console showed it to her."""

    escalation_id: str
    severity: str
    condition: str
    session: int | None
    paged: str | None
    """Who the page went to (the console's `assigned_to`)."""
    acknowledged_by: str | None
    resolved: bool = False


class ConsoleNurse:
    """Signs in once, then answers pages for any course; `handled` is what she did, by course."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        *,
        say: Callable[[str], None] = lambda _: None,
        patience: timedelta = PATIENCE,
    ) -> None:
        self._http = http
        self._token = token
        self._say = say
        self._patience = patience
        self._csrf: str | None = None
        self._signing_in = asyncio.Lock()
        self.handled: dict[str, dict[str, Handled]] = {}

    async def acknowledge(self, course_id: str, session: int, condition: str) -> str:
        paged = await self._paged(course_id, session, condition)
        escalation_id = str(paged["escalation_id"])
        row = paged
        if row["acknowledged_at"] is None:
            listing = await self._post(f"/console/escalations/{escalation_id}/acknowledge")
            row = next(e for e in listing["escalations"] if e["escalation_id"] == escalation_id)
        handled = Handled(
            escalation_id=escalation_id,
            severity=row["severity"],
            condition=row["condition"],
            session=row["session"],
            paged=paged["assigned_to"],
            acknowledged_by=row["acknowledged_by"],
        )
        self.handled.setdefault(course_id, {})[escalation_id] = handled
        self._say(
            f"{course_id} session {session}: {handled.severity} {condition}, paged "
            f"{handled.paged}; acknowledged on the console by {handled.acknowledged_by}"
        )
        return escalation_id

    async def resolve(self, escalation_id: str, note: str) -> None:
        await self._post(f"/console/escalations/{escalation_id}/resolve", {"note": note})
        for course_id, handled in self.handled.items():
            if escalation_id in handled:
                done = handled[escalation_id]
                handled[escalation_id] = replace(done, resolved=True)
                self._say(f"{course_id} session {done.session}: {done.condition} resolved")

    async def _paged(self, course_id: str, session: int, condition: str) -> dict[str, Any]:
        """The escalation once the console lists it with its page sent."""
        deadline = time.monotonic() + self._patience.total_seconds()
        while time.monotonic() < deadline:
            listing = await self._get("/console/escalations")
            for row in listing["escalations"]:
                if (row["course_id"], row["session"], row["condition"]) == (
                    course_id,
                    session,
                    condition,
                ) and row["pages"]:
                    return dict(row)
            await asyncio.sleep(LIST_POLL_SECONDS)
        raise Stalled(
            f"{course_id} session {session}: no paged {condition} escalation on the console "
            f"after {self._patience.seconds} s"
        )

    async def _get(self, path: str) -> Any:
        await self._signed_in()
        return _answer(await self._http.get(path))

    async def _post(self, path: str, body: dict[str, str] | None = None) -> Any:
        csrf = await self._signed_in()
        return _answer(await self._http.post(path, json=body, headers={"X-CSRF-Token": csrf}))

    async def _signed_in(self) -> str:
        """The console's CSRF token, signing in first (the session cookie) if not yet."""
        async with self._signing_in:
            if self._csrf is None:
                signed = await self._http.post("/console/sign-in", data={"token": self._token})
                if signed.status_code != httpx.codes.SEE_OTHER:
                    _answer(signed)
                    raise Stalled(f"console sign-in answered {signed.status_code}")
                page = await self._http.get("/console")
                found = CSRF.search(page.text)
                if found is None:
                    raise Stalled("the console page carries no CSRF token: not signed in")
                self._csrf = found.group(1)
            return self._csrf


def _answer(response: httpx.Response) -> Any:
    if response.is_error:
        request = response.request
        raise ApiRefusal(request.method, request.url.path, response.status_code, response.text)
    return response.json()
