-- A worker may dispute a flag on her file; administrators annotate it or ask the source to
-- retract it. The flag itself only changes when its source sends a new version.
CREATE TABLE flag_disputes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    flag_id         uuid NOT NULL REFERENCES flags (id),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    raised_by       uuid NOT NULL REFERENCES users (id),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'annotated', 'retraction_requested', 'rejected')),
    note            text CHECK (length(note) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    decided_by      uuid REFERENCES users (id)
);
CREATE UNIQUE INDEX flag_disputes_one_open_idx ON flag_disputes (flag_id) WHERE status = 'open';

GRANT SELECT, INSERT, UPDATE ON flag_disputes TO registry_app;
