-- Callers' tokens, stored as SHA-256 hashes of their secrets (256 random bits each, so a fast
-- hash is enough): a leaked table signs nobody in. `clinics` holds clinic ids or '*' (every).
CREATE TABLE api_tokens (
    token_id    text PRIMARY KEY,
    secret_hash bytea NOT NULL,
    actor       text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('person', 'system')),
    roles       text[] NOT NULL CHECK (cardinality(roles) > 0),
    clinics     text[] NOT NULL CHECK (cardinality(clinics) > 0),
    issued_by   text NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text,
    CHECK (expires_at > issued_at)
);

CREATE INDEX api_tokens_actor ON api_tokens (actor);

-- Console sign-ins, kept on the server so that they can end: at sign-out, when the token they
-- were opened with is revoked or expires, after an idle time-out, and at an absolute lifetime.
-- The cookie holds a random secret; only its hash is kept.
CREATE TABLE console_sessions (
    session_hash bytea PRIMARY KEY,
    csrf_token   text NOT NULL,
    actor        text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('person', 'system')),
    roles        text[] NOT NULL,
    clinics      text[] NOT NULL,
    token_id     text REFERENCES api_tokens,
    signed_in_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);

CREATE INDEX console_sessions_actor ON console_sessions (actor);

-- Which clinic a course belongs to, from the moment the API starts it (its patient and course
-- rows come later, from the workflow's first activity): every later request is scoped by it.
CREATE TABLE course_clinics (
    course_id  text PRIMARY KEY,
    clinic_id  text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO course_clinics (course_id, clinic_id)
SELECT course_id, clinic_id FROM courses
ON CONFLICT DO NOTHING;

-- Audit rows name the caller's kind and the clinic acted in.
ALTER TABLE audit_log
    ADD COLUMN actor_kind text CHECK (actor_kind IN ('person', 'system')),
    ADD COLUMN clinic_id  text;

CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE INDEX audit_log_clinic ON audit_log (clinic_id, at);

-- The application's database role: it may append to the audit log and read it, never change
-- it (the triggers of 0002 refuse that to everyone; the grants make it plain). Roles belong to
-- the cluster, so another database of the same cluster may have made it already.
-- Databases migrating at once (the test suite's) may race to create it: the loser moves on.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trdflow_app') THEN
        CREATE ROLE trdflow_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO trdflow_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO trdflow_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trdflow_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO trdflow_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM trdflow_app;
