-- Each clinic's published protocol versions (S8). A version is immutable once published;
-- the clinic's current protocol is its latest. A course pins the current version when it is
-- registered (courses.protocol_version) and keeps it for its whole life.
CREATE TABLE clinic_protocols (
    clinic_id    text NOT NULL,
    version      text NOT NULL CHECK (version <> ''),
    protocol     jsonb NOT NULL,
    published_by text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    seq          bigserial NOT NULL UNIQUE,
    PRIMARY KEY (clinic_id, version)
);

CREATE INDEX clinic_protocols_current ON clinic_protocols (clinic_id, seq DESC);
