-- When each device of a dose was used, by the clinic's clock (the label: 5 minutes apart).
-- NULL only for doses recorded before the times were kept.
ALTER TABLE doses
    ADD COLUMN device_times timestamptz[]
        CHECK (device_times IS NULL OR cardinality(device_times) = devices);
