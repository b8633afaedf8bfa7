-- A staff action sent to a workflow is audited in two append-only rows sharing its request key
-- and attempt: the intent, durable before the Update is sent, and the outcome after it. An
-- intent without an outcome is an action whose fate the API did not learn (an outage): its
-- retry finds the attempt and sends the same Update id, so the action is applied once.
-- Rows written in one go, after the fact or in the transaction of their change, are 'done'.
ALTER TABLE audit_log
    ADD COLUMN request_key text,
    ADD COLUMN attempt     integer,
    ADD COLUMN stage       text NOT NULL DEFAULT 'done'
        CHECK (stage IN ('intent', 'done', 'refused')),
    ADD CONSTRAINT audit_log_request_attempt CHECK ((request_key IS NULL) = (attempt IS NULL));

-- One row per stage of an attempt: a repeated write (a retry, a concurrent twin) is a no-op.
CREATE UNIQUE INDEX audit_log_request ON audit_log (request_key, attempt, stage)
    WHERE request_key IS NOT NULL;
