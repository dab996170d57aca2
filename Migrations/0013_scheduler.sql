-- Time: the scheduler's record of each job, the day each grade was computed as of (so that the
-- daily recompute finds only grades that time can change), the indexes that keep the time jobs
-- cheap when nothing is due, and signed audit checkpoints.

-- One row per scheduled job, updated by whichever node ran it last.
CREATE TABLE job_runs (
    job                 text PRIMARY KEY CHECK (job ~ '^[a-z][a-z-]{1,40}$'),
    runs                bigint NOT NULL DEFAULT 0 CHECK (runs >= 0),
    failures            bigint NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_started_at     timestamptz,
    last_finished_at    timestamptz,
    last_duration_ms    double precision CHECK (last_duration_ms >= 0),
    last_rows           bigint CHECK (last_rows >= 0),
    -- The class of the last failure (never a message's text or a code); NULL after a success.
    last_error          text CHECK (length(last_error) <= 500),
    last_node           text CHECK (length(last_node) <= 200),
    -- The registry's day (China time) of the last successful run: the next run covers what
    -- became due since.
    last_as_of          date,
    last_success_at     timestamptz
);
GRANT SELECT, INSERT, UPDATE ON job_runs TO registry_app;

-- The day a grade was computed as of (the grader's `today`).
ALTER TABLE grades ADD COLUMN as_of date;
UPDATE grades SET as_of = (computed_at AT TIME ZONE 'Asia/Shanghai')::date;
ALTER TABLE grades ALTER COLUMN as_of SET DEFAULT ((now() AT TIME ZONE 'Asia/Shanghai')::date);
ALTER TABLE grades ALTER COLUMN as_of SET NOT NULL;
CREATE INDEX grades_as_of_idx ON grades (as_of) WHERE grade <> 'REVOKED';

-- What expires or goes stale on a given day.
CREATE INDEX health_certificates_valid_until_idx ON health_certificates (valid_until);
CREATE INDEX trainings_expires_on_idx ON trainings (expires_on) WHERE expires_on IS NOT NULL;
CREATE INDEX skill_assessments_assessed_on_idx ON skill_assessments (assessed_on);
-- Sessions left idle, to be ended.
CREATE INDEX sessions_idle_idx ON sessions (last_seen_at) WHERE revoked_at IS NULL;

-- A checkpoint is signed (HMAC-SHA256 under a key derived from the key ring, which is not in
-- the database) over "seq|hash|taken_at"; the same line is appended to the checkpoint folder.
ALTER TABLE audit_checkpoints ADD COLUMN signature bytea CHECK (length(signature) = 32);
