-- One REMS Patient Monitoring Form per session, stored once, then submitted.
CREATE TABLE rems_forms (
    form_id       text PRIMARY KEY,
    course_id     text NOT NULL REFERENCES courses,
    session       integer NOT NULL,
    payload       jsonb NOT NULL,
    due_at        timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'submitted', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    submission_id text,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    submitted_at  timestamptz,
    UNIQUE (course_id, session)
);

-- Forms not yet accepted, by deadline (the 7-day REMS rule).
CREATE INDEX rems_forms_open ON rems_forms (due_at) WHERE status <> 'submitted';
