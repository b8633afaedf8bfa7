-- The clinical record. PHI (name, phone, e-mail, date of birth) lives in `patients` only;
-- every other table is keyed by the pseudonymous course id.
CREATE TABLE patients (
    patient_ref   text PRIMARY KEY,
    name          text NOT NULL,
    phone         text NOT NULL,
    email         text,
    date_of_birth date NOT NULL,
    reminders_by  text[] NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE courses (
    course_id        text PRIMARY KEY,
    patient_ref      text NOT NULL REFERENCES patients,
    clinic_id        text NOT NULL,
    clinic_timezone  text NOT NULL,
    indication       text NOT NULL,
    protocol_version text NOT NULL,
    registered_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX courses_patient ON courses (patient_ref);

-- One row per session, upserted by each session event; `stage` follows domain.session.Stage.
CREATE TABLE sessions (
    course_id               text NOT NULL REFERENCES courses,
    number                  integer NOT NULL CHECK (number >= 1),
    scheduled_at            timestamptz,
    stage                   text NOT NULL,
    last_event              text NOT NULL,
    last_event_at           timestamptz NOT NULL,
    last_event_detail       text,
    checked_in_at           timestamptz,
    checked_in_by           text,
    transport_confirmed_at  timestamptz,
    transport_confirmed_via text,
    held_at                 timestamptz,
    dosed_at                timestamptz,
    discharged_at           timestamptz,
    discharged_by           text,
    not_dosed_reason        text,
    concomitant_medications text[] NOT NULL DEFAULT '{}',
    respiratory_depression  boolean,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (course_id, number)
);

-- Readings as the clinic systems sent them (the VitalSigns JSON), stored before they are
-- acknowledged. No foreign key to `sessions`: a reading may arrive before the session's
-- first event is recorded.
CREATE TABLE readings (
    id          bigserial PRIMARY KEY,
    course_id   text NOT NULL REFERENCES courses,
    session     integer NOT NULL CHECK (session >= 1),
    taken_at    timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL,
    signs       jsonb NOT NULL
);

CREATE INDEX readings_session ON readings (course_id, session, taken_at);

-- One row per sign per vitals checkpoint, coded (LOINC, or the local code system for the
-- scales and symptoms LOINC does not cover). The effect key makes a retried check a no-op.
CREATE TABLE observations (
    id          bigserial PRIMARY KEY,
    effect_key  text UNIQUE NOT NULL,
    course_id   text NOT NULL REFERENCES courses,
    session     integer NOT NULL,
    checkpoint  text NOT NULL,
    reading_id  bigint NOT NULL REFERENCES readings,
    code_system text NOT NULL,
    code        text NOT NULL,
    panel_code  text,
    value       numeric NOT NULL,
    unit        text NOT NULL,
    level       text NOT NULL,
    conditions  text[] NOT NULL DEFAULT '{}',
    taken_at    timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX observations_checkpoint ON observations (course_id, session, checkpoint);

CREATE TABLE doses (
    course_id       text NOT NULL REFERENCES courses,
    session         integer NOT NULL,
    dose_mg         integer NOT NULL CHECK (dose_mg > 0),
    devices         integer NOT NULL CHECK (devices > 0),
    lot             text NOT NULL,
    first_device_at timestamptz NOT NULL,
    administered_by text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (course_id, session)
);
