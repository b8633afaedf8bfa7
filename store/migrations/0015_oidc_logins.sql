-- Single sign-on attempts under way: the state (hashed), the nonce and the PKCE verifier that
-- the provider's answer must match. Each is used once (deleted) and lives ten minutes.
CREATE TABLE oidc_logins (
    state_hash    bytea PRIMARY KEY,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    redirect_uri  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);

CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);
