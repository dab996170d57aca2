-- 0025: agency demerit points (Policies/demerits.yaml). Each demerit is a notice first: the
-- agency sees the offence, its evidence and the points, and may answer by answer_due; an
-- administrator upholds or withdraws it with a reason, or the demerit-deadlines job upholds it
-- unanswered. Upheld points count until expires_at. `event_key` makes an offence the registry
-- records by itself (an overturned assessment, a transfer moved by the deadline, a placement of
-- a suspended worker attempted) count once per event.
CREATE TABLE agency_demerits (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    offence         text NOT NULL CHECK (offence ~ '^[a-z][a-z0-9_]{0,39}$'),
    points          int NOT NULL CHECK (points BETWEEN 1 AND 100),
    expires_days    int NOT NULL CHECK (expires_days BETWEEN 30 AND 3650),
    state           text NOT NULL DEFAULT 'notified' CHECK (state IN ('notified', 'answered', 'upheld', 'withdrawn')),
    evidence        text NOT NULL CHECK (length(evidence) BETWEEN 1 AND 4000),
    worker_id       uuid REFERENCES workers (id),
    event_key       text UNIQUE CHECK (length(event_key) <= 200),
    -- Who recorded it: an administrator, or NULL for the registry itself.
    recorded_by     uuid REFERENCES users (id),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    answer_due      timestamptz NOT NULL,
    answer          text CHECK (length(answer) BETWEEN 1 AND 4000),
    answered_by     uuid REFERENCES users (id),
    answered_at     timestamptz,
    -- Who decided (NULL with a decision: upheld unanswered by the deadline job).
    decided_by      uuid REFERENCES users (id),
    decided_at      timestamptz,
    decision_reason text CHECK (length(decision_reason) BETWEEN 1 AND 2000),
    expires_at      timestamptz,
    CHECK ((state = 'answered') <= (answer IS NOT NULL)),
    CHECK ((state = 'upheld') = (expires_at IS NOT NULL)),
    CHECK ((state IN ('upheld', 'withdrawn')) = (decided_at IS NOT NULL))
);
CREATE INDEX agency_demerits_agency_idx ON agency_demerits (agency_id, recorded_at DESC);
CREATE INDEX agency_demerits_due_idx ON agency_demerits (answer_due) WHERE state = 'notified';
CREATE INDEX agency_demerits_open_idx ON agency_demerits (recorded_at) WHERE state IN ('notified', 'answered');

-- What the agency's points in force led to, kept so that each change of level is told and
-- audited once: none, warning, registrations_suspended or case.
ALTER TABLE agencies ADD COLUMN demerit_level text NOT NULL DEFAULT 'none'
    CHECK (demerit_level IN ('none', 'warning', 'registrations_suspended', 'case'));
ALTER TABLE agencies ADD COLUMN demerit_level_since timestamptz;

GRANT SELECT, INSERT, UPDATE ON agency_demerits TO registry_app;
