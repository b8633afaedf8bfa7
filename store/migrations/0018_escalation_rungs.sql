-- When the escalation's current rung began: its latest page (whether it reached someone or
-- not) or reassignment. The console shows how long it has waited there.
ALTER TABLE escalations ADD COLUMN rung_since timestamptz;
UPDATE escalations SET rung_since = COALESCE(last_paged_at, raised_at);
ALTER TABLE escalations ALTER COLUMN rung_since SET NOT NULL;
