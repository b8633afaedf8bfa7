-- One row per notification effect: the unique effect key makes a retried send a no-op.
CREATE TABLE notification_outbox (
    id          bigserial PRIMARY KEY,
    effect_key  text UNIQUE NOT NULL,
    course_id   text,
    channel     text NOT NULL,
    recipient   text NOT NULL,
    kind        text NOT NULL,
    body        text NOT NULL,
    status      text NOT NULL DEFAULT 'pending',
    provider_id text,
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The dispatcher polls pending rows, oldest first.
CREATE INDEX notification_outbox_pending ON notification_outbox (created_at)
    WHERE status = 'pending';
