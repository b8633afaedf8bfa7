-- When each device of a dose was used, by the clinic's clock (the label: 5 minutes apart).
-- Doses recorded before the times were kept exist only in local demo databases (no clinic ran
-- that code): they get their first device's time, then the label's 5 minutes per device.
ALTER TABLE doses ADD COLUMN device_times timestamptz[];
UPDATE doses SET device_times = ARRAY(
    SELECT first_device_at + step * interval '5 minutes'
    FROM generate_series(0, devices - 1) AS step
    ORDER BY step
);
ALTER TABLE doses
    ALTER COLUMN device_times SET NOT NULL,
    ADD CONSTRAINT doses_device_times CHECK (cardinality(device_times) = devices);
