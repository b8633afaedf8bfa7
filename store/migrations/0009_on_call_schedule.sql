-- Who is on call, per clinic and role. The person on call at an instant is the one whose
-- shift contains it; where shifts overlap, the latest to start wins (a cover shift).
CREATE TABLE on_call_schedule (
    id                bigserial PRIMARY KEY,
    clinic_id         text NOT NULL,
    role              text NOT NULL
                      CHECK (role IN ('on_call_nurse', 'on_call_psychiatrist', 'medical_director')),
    staff_id          text NOT NULL,
    display_name      text NOT NULL,
    phone             text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    -- The staff member's PagerDuty integration (Events API v2); NULL: paged by SMS.
    pager_routing_key text,
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    CHECK (starts_at < ends_at),
    UNIQUE (clinic_id, role, staff_id, starts_at)
);

CREATE INDEX on_call_now ON on_call_schedule (clinic_id, role, starts_at DESC);
CREATE INDEX on_call_staff ON on_call_schedule (staff_id, starts_at DESC);
