-- The ride home per session. driver_name and driver_phone are PHI.
CREATE TABLE transport_arrangements (
    course_id           text NOT NULL REFERENCES courses,
    session             integer NOT NULL,
    driver_name         text NOT NULL,
    driver_phone        text NOT NULL,
    arranged_by         text NOT NULL,
    arranged_at         timestamptz NOT NULL DEFAULT now(),
    -- Bumped when another driver is named: the new driver gets their own request SMS.
    revision            integer NOT NULL DEFAULT 1,
    requested_at        timestamptz,
    request_provider_id text,
    confirmed_at        timestamptz,
    confirmed_via       text CHECK (confirmed_via IN ('driver_sms', 'staff')),
    confirmed_by        text,
    PRIMARY KEY (course_id, session)
);

-- The inbound-SMS webhook finds the request a driver's reply answers.
CREATE INDEX transport_awaiting_reply ON transport_arrangements (driver_phone, requested_at)
    WHERE confirmed_at IS NULL AND requested_at IS NOT NULL;
