-- Time: a flag's effects end on their own when it expires. The flag-expiry job finds flags whose
-- last day has passed and whose expiry it has not yet applied, lifts what they caused, and
-- records the day it did so here (once per flag, safe with several nodes: rows are claimed with
-- FOR UPDATE SKIP LOCKED). A later change of expires_on clears the mark, so a flag extended and
-- expiring again is handled again.
ALTER TABLE flags ADD COLUMN expiry_applied_on date;

CREATE INDEX flags_expiry_due_idx ON flags (expires_on) WHERE expires_on IS NOT NULL AND expiry_applied_on IS NULL;

-- Flags that had already expired when this migration ran are handled by the first run of the job.
