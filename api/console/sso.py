"""Staff single sign-on through OpenID Connect: the authorization code flow with PKCE (S256).

The console sends a person to the hospital's identity provider with a one-time `state`, a
`nonce` and a PKCE challenge (Authlib's S256), all kept server-side (`oidc_logins`, ten minutes,
used once); the provider sends them back with a code, which is exchanged with the verifier for
an ID token. The token's signature (the provider's published keys, asymmetric algorithms only,
by joserfc), issuer, audience, expiry and nonce are checked (Authlib's `CodeIDToken`), and its
claims name the person, their roles and their clinics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from pydantic import ValidationError

from domain.access import Identity, Kind, Role
from store.tokens import secret_hash
from worker.settings import Settings

LOGIN_LIFETIME = timedelta(minutes=10)
SCOPE = "openid profile"
SIGNING_ALGORITHMS = ["RS256", "ES256"]
"""Asymmetric only: a provider's shared secret must never sign what it cannot also verify."""
HTTP_TIMEOUT_S = 10.0


class SignOnRefused(Exception):
    """The sign-on did not prove who is there; the message is for the audit log and the page
    (it never quotes a token)."""


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str | None
    roles_claim: str
    clinics_claim: str

    @classmethod
    def configured(cls, settings: Settings) -> Provider | None:
        if settings.oidc_issuer is None or settings.oidc_client_id is None:
            return None
        secret = settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer.rstrip("/"),
            client_id=settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            roles_claim=settings.oidc_roles_claim,
            clinics_claim=settings.oidc_clinics_claim,
        )


class SingleSignOn:
    def __init__(self, provider: Provider, pool: asyncpg.Pool) -> None:
        self.provider = provider
        self._pool = pool
        self._metadata: dict[str, Any] | None = None

    async def start(self, redirect_uri: str) -> str:
        """The provider's authorization URL for a new sign-on."""
        metadata = await self._discovery()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        await self._pool.execute(
            "INSERT INTO oidc_logins (state_hash, nonce, code_verifier, redirect_uri, expires_at)"
            " VALUES ($1, $2, $3, $4, now() + $5::interval)",
            secret_hash(state),
            nonce,
            verifier,
            redirect_uri,
            LOGIN_LIFETIME,
        )
        query = {
            "response_type": "code",
            "client_id": self.provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        url: str = add_params_to_uri(metadata["authorization_endpoint"], list(query.items()))
        return url

    async def finish(self, code: str, state: str) -> Identity:
        """Who the provider says signed on, from the code it sent back with `state`."""
        login = await self._pool.fetchrow(
            "DELETE FROM oidc_logins WHERE state_hash = $1 AND expires_at > now()"
            " RETURNING nonce, code_verifier, redirect_uri",
            secret_hash(state),
        )
        if login is None:
            raise SignOnRefused("unknown, used or expired sign-on state")
        token = await self._exchange(code, login["code_verifier"], login["redirect_uri"])
        claims = await self._verified_claims(token.get("id_token"), login["nonce"])
        return self._identity(claims)

    async def _verified_claims(self, id_token: object, nonce: str) -> dict[str, Any]:
        if not isinstance(id_token, str):
            raise SignOnRefused("the provider sent no ID token")
        metadata = await self._discovery()
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
            keys = (await http.get(metadata["jwks_uri"])).raise_for_status().json()
        try:
            decoded = jwt.decode(
                id_token,
                KeySet.import_key_set(keys),
                registry=JWSRegistry(algorithms=SIGNING_ALGORITHMS),
            )
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {"iss": {"essential": True, "values": [self.provider.issuer]}},
                {"nonce": nonce, "client_id": self.provider.client_id},
            )
            claims.validate(leeway=60)
        except (JoseError, ValueError) as err:
            raise SignOnRefused(f"the ID token was refused: {type(err).__name__}") from err
        return dict(claims)

    def _identity(self, claims: dict[str, Any]) -> Identity:
        granted = claims.get(self.provider.roles_claim) or []
        roles = {role for role in Role if role.value in granted}
        try:
            return Identity(
                actor=claims.get("preferred_username") or claims["sub"],
                kind=Kind.PERSON,
                roles=frozenset(roles),
                clinics=frozenset(claims.get(self.provider.clinics_claim) or []),
            )
        except ValidationError as err:
            fields = sorted({str(problem["loc"][0]) for problem in err.errors() if problem["loc"]})
            raise SignOnRefused(f"the ID token's claims name no valid {', '.join(fields)}") from err

    async def _discovery(self) -> dict[str, Any]:
        if self._metadata is None:
            url = f"{self.provider.issuer}/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
                metadata: dict[str, Any] = (await http.get(url)).raise_for_status().json()
            if metadata.get("issuer", "").rstrip("/") != self.provider.issuer:
                raise SignOnRefused("the provider's metadata names another issuer")
            self._metadata = metadata
        return self._metadata

    async def _exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """The token endpoint's answer to the code and its PKCE verifier (RFC 6749 4.1.3)."""
        metadata = await self._discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        secret = self.provider.client_secret
        if secret is None:
            form["client_id"] = self.provider.client_id  # a public client names itself
        # client_secret_basic for a confidential client
        auth = httpx.BasicAuth(self.provider.client_id, secret) if secret else None
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, auth=auth) as http:
                answer = await http.post(metadata["token_endpoint"], data=form)
            token: dict[str, Any] = answer.raise_for_status().json()
        except (httpx.HTTPError, ValueError) as err:
            raise SignOnRefused(f"the code was not exchanged: {type(err).__name__}") from err
        return token
