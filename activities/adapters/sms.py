"""SMS through Twilio's Messages API.

`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth (account SID,
auth token), form fields To, From and Body. Twilio answers 201 with the message resource
(`sid`, `status`), or an error object `{"code", "message", "more_info", "status"}`.
"""

from __future__ import annotations

import httpx

from activities.adapters.errors import answer_json, connection_failure, http_failure
from activities.adapters.ports import OutgoingMessage

TIMEOUT = httpx.Timeout(10.0)


class TwilioSms:
    provider = "twilio"

    def __init__(
        self, *, account_sid: str, auth_token: str, from_number: str, api_base: str
    ) -> None:
        self._url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        self._from = from_number
        # One client for the worker's life: its TLS context and connections are built once.
        self._http = httpx.AsyncClient(auth=self._auth, timeout=TIMEOUT)

    async def send(self, message: OutgoingMessage) -> str:
        form = {"To": message.to, "From": self._from, "Body": message.body}
        try:
            response = await self._http.post(self._url, data=form)
        except httpx.TransportError as err:
            raise connection_failure(self.provider, err) from err
        answer = answer_json(response)
        if response.status_code != httpx.codes.CREATED:
            raise http_failure(self.provider, response, answer.get("code"))
        sid: str = answer["sid"]
        return sid
