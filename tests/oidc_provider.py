"""A small OpenID provider for the tests, served over real HTTP on loopback: discovery, an
authorization endpoint that signs in whoever the test says is there, a token endpoint that
checks the client and the PKCE verifier, and RS256 ID tokens signed with a fresh key.

It can also misbehave as an attacker's or a broken provider would (`Mischief`), so that each
check of the client is seen to refuse.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Header, HTTPException, Query
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "trdflow-console"
CLIENT_SECRET = "test-oidc-client-secret"


class Mischief(Enum):
    NONE = "none"
    FOREIGN_KEY = "foreign_key"
    """Signs with a key it does not publish (a forged token)."""
    OTHER_AUDIENCE = "other_audience"
    OTHER_NONCE = "other_nonce"
    EXPIRED = "expired"
    OTHER_ISSUER = "other_issuer"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str


@dataclass
class LocalProvider:
    issuer: str = ""
    """Set once served."""
    claims: dict[str, Any] = field(default_factory=dict)
    """Who is signed in at the provider."""
    mischief: Mischief = Mischief.NONE
    authorizations: list[dict[str, str]] = field(default_factory=list)
    """The query of every authorization request, as the provider received it."""
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    )
    _grants: dict[str, Grant] = field(default_factory=dict)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }

        @app.get("/jwks")
        async def jwks() -> dict[str, Any]:
            return dict(KeySet([self.key]).as_dict(private=False))

        @app.get("/authorize")
        async def authorize(
            client_id: str,
            redirect_uri: str,
            state: str,
            nonce: str,
            code_challenge: str,
            code_challenge_method: Annotated[str, Query()],
            response_type: str,
            scope: str,
        ) -> RedirectResponse:
            self.authorizations.append(
                {
                    "client_id": client_id,
                    "redirect_uri": redirect_uri,
                    "code_challenge_method": code_challenge_method,
                    "response_type": response_type,
                    "scope": scope,
                }
            )
            if client_id != CLIENT_ID or code_challenge_method != "S256":
                raise HTTPException(400, "unknown client or no S256 challenge")
            code = secrets.token_urlsafe(24)
            self._grants[code] = Grant(client_id, redirect_uri, code_challenge, nonce)
            query = urlencode({"code": code, "state": state})
            return RedirectResponse(f"{redirect_uri}?{query}", 302)

        @app.post("/token")
        async def token(
            grant_type: Annotated[str, Form()],
            code: Annotated[str, Form()],
            redirect_uri: Annotated[str, Form()],
            code_verifier: Annotated[str, Form()],
            authorization: Annotated[str | None, Header()] = None,
        ) -> JSONResponse:
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if authorization != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, 401)
            grant = self._grants.pop(code, None)  # a code is used once
            if grant is None or grant_type != "authorization_code":
                return JSONResponse({"error": "invalid_grant"}, 400)
            if redirect_uri != grant.redirect_uri or _s256(code_verifier) != grant.challenge:
                return JSONResponse({"error": "invalid_grant"}, 400)
            return JSONResponse(
                {
                    "access_token": secrets.token_urlsafe(24),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": self._id_token(grant),
                }
            )

        return app

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **self.claims,
        }
        key = self.key
        match self.mischief:
            case Mischief.FOREIGN_KEY:
                key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
            case Mischief.OTHER_AUDIENCE:
                claims["aud"] = "another-client"
            case Mischief.OTHER_NONCE:
                claims["nonce"] = "not-the-one-sent"
            case Mischief.EXPIRED:
                claims["iat"], claims["exp"] = now - 3600, now - 1800
            case Mischief.OTHER_ISSUER:
                claims["iss"] = "https://attacker.example"
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
