"""The REMS portal: a JSON POST of the Patient Monitoring Form with a bearer token.

The real portal's API is not public: this shape is ASSUMED. It takes the form as JSON at
`REMS_PORTAL_URL`, with `Authorization: Bearer <token>` and an `Idempotency-Key` (the form
id), and answers 201 `{"submission_id": "..."}`. Errors follow HTTP: 4xx is a refusal, 429
and 5xx are transient. Adjust here once the vendor's specification is in hand.
"""

from __future__ import annotations

import httpx

from activities.adapters.errors import connection_failure, http_failure
from domain.rems import RemsMonitoringForm

TIMEOUT = httpx.Timeout(30.0)


class PortalRems:
    provider = "rems_portal"

    def __init__(self, *, url: str, token: str) -> None:
        self._url = url
        self._token = token
        # One client for the worker's life: its TLS context and connections are built once.
        self._http = httpx.AsyncClient(timeout=TIMEOUT)

    async def submit(self, form: RemsMonitoringForm) -> str:
        headers = {"Authorization": f"Bearer {self._token}", "Idempotency-Key": form.form_id}
        try:
            response = await self._http.post(
                self._url, json=form.model_dump(mode="json"), headers=headers
            )
        except httpx.TransportError as err:
            raise connection_failure(self.provider, err) from err
        if response.status_code != httpx.codes.CREATED:
            raise http_failure(self.provider, response)
        submission_id: str = response.json()["submission_id"]
        return submission_id
