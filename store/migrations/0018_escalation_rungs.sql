-- When the escalation's current rung began: its latest page (whether it reached someone or
-- not) or reassignment. The console shows how long it has waited there.
-- The default serves rows a worker of the previous release writes during a rolling deploy
-- (it names no such column): their rung then begins when they were written.
ALTER TABLE escalations ADD COLUMN rung_since timestamptz NOT NULL DEFAULT now();
UPDATE escalations SET rung_since = COALESCE(last_paged_at, raised_at);
