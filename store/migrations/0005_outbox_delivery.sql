-- The outbox is also the delivery ledger of every provider: a row is pending until the
-- provider accepts it (sent, with its id) or refuses it for good (failed, with the error).
ALTER TABLE notification_outbox
    ADD COLUMN provider   text,
    ADD COLUMN last_error text,
    ADD COLUMN sent_at    timestamptz,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT notification_outbox_status CHECK (status IN ('pending', 'sent', 'failed'));

-- Staff see the refused deliveries.
CREATE INDEX notification_outbox_failed ON notification_outbox (updated_at)
    WHERE status = 'failed';
