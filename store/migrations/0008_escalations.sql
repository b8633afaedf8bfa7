-- One row per escalation: what the on-call console lists, kept current by the Escalation
-- workflow's record_escalation activity. No foreign keys: recording an escalation must never
-- fail on bookkeeping.
CREATE TABLE escalations (
    escalation_id   text PRIMARY KEY,
    dedup_key       text NOT NULL,
    course_id       text NOT NULL,
    clinic_id       text NOT NULL,
    session         integer,
    phase           text,
    severity        text NOT NULL CHECK (severity IN ('routine', 'urgent', 'critical')),
    condition       text NOT NULL,
    summary         text NOT NULL,
    reading_id      bigint,
    status          text NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    -- When the step that set `status` happened: an older step recorded late cannot undo it.
    status_at       timestamptz NOT NULL,
    raised_at       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at     timestamptz,
    resolved_by     text,
    resolution_note text,
    assigned_to     text,
    pages           integer NOT NULL DEFAULT 0,
    last_paged_at   timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The console: unresolved escalations per clinic, newest first.
CREATE INDEX escalations_unresolved ON escalations (clinic_id, raised_at DESC)
    WHERE status <> 'resolved';
CREATE INDEX escalations_course ON escalations (course_id);

-- Listeners (the console) hear the id of every escalation written.
CREATE FUNCTION escalations_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('escalations', NEW.escalation_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER escalations_changed
    AFTER INSERT OR UPDATE ON escalations
    FOR EACH ROW EXECUTE FUNCTION escalations_notify();

-- Writers that may repeat (an activity under retry) give their entry an effect key: the
-- repeat is then a no-op.
ALTER TABLE audit_log ADD COLUMN effect_key text UNIQUE;
