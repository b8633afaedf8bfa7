-- Webhook deliveries already handled, by the provider's own id: PagerDuty's `event.id`, Twilio's
-- `MessageSid`. A webhook claims its id in the transaction of its audit row and effect, so a
-- redelivery or a replayed capture finds the row and has no second effect (and a concurrent
-- twin waits on the key until the first commits). No PHI: ids only.
CREATE TABLE webhook_events (
    source      text NOT NULL CHECK (source IN ('pagerduty', 'twilio')),
    event_id    text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);

-- The PagerDuty user each staff member acknowledges pages as (`event.agent.id` of the v3
-- webhook): an acknowledgement is audited as that staff member, and one from a user no shift
-- names is refused. NULL: they do not acknowledge on the pager.
ALTER TABLE on_call_schedule ADD COLUMN pager_user_id text;

CREATE INDEX on_call_pager_user ON on_call_schedule (clinic_id, pager_user_id)
    WHERE pager_user_id IS NOT NULL;
