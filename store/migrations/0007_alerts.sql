-- Escalation triggers, one per dedup key; the escalation issue pages people from here.
-- No foreign keys: raising an alert must never fail on bookkeeping.
CREATE TABLE alerts (
    id         bigserial PRIMARY KEY,
    dedup_key  text UNIQUE NOT NULL,
    course_id  text NOT NULL,
    session    integer,
    severity   text NOT NULL CHECK (severity IN ('routine', 'urgent', 'critical')),
    condition  text NOT NULL,
    summary    text NOT NULL,
    reading_id bigint,
    status     text NOT NULL DEFAULT 'open'
               CHECK (status IN ('open', 'acknowledged', 'resolved')),
    raised_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX alerts_open ON alerts (course_id) WHERE status = 'open';
