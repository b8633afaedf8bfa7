-- Each page that reached someone, and when its rung's wait for an acknowledgement ends (the
-- next rung is paged then). An open escalation whose latest page is past that is stuck on its
-- ladder, or has run out of it: the metrics count those. No foreign key: recording a page must
-- never fail on bookkeeping (the escalation's own row is written after its first page).
CREATE TABLE escalation_pages (
    escalation_id text NOT NULL,
    attempt       integer NOT NULL CHECK (attempt >= 1),
    paged_at      timestamptz NOT NULL,
    answer_due_at timestamptz NOT NULL,
    PRIMARY KEY (escalation_id, attempt)
);
