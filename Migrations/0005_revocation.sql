-- Revocation cases, their timeline, evidence, interim suspensions and bans.

CREATE TABLE cases (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind                text NOT NULL DEFAULT 'revocation' CHECK (kind IN ('revocation', 'reinstatement')),
    related_case_id     uuid REFERENCES cases (id),
    worker_id           uuid NOT NULL REFERENCES workers (id),
    requester_kind      text NOT NULL CHECK (requester_kind IN ('employer', 'agency', 'system', 'worker')),
    requester_id        uuid REFERENCES users (id),
    requester_agency_id uuid REFERENCES agencies (id),
    origin_flag_id      uuid REFERENCES flags (id),
    grounds             text NOT NULL CHECK (grounds ~ '^[a-z_]{2,40}$'),
    statement           text NOT NULL CHECK (length(statement) BETWEEN 1 AND 10000),
    state               text NOT NULL DEFAULT 'submitted' CHECK (state IN (
                            'submitted', 'under_review', 'awaiting_information', 'decision_proposed',
                            'decided', 'notice_period', 'objection_review', 'final', 'executed',
                            'withdrawn', 'closed')),
    outcome             text CHECK (outcome IN ('upheld', 'rejected')),
    proposed_outcome    text CHECK (proposed_outcome IN ('upheld', 'rejected')),
    proposed_by         uuid REFERENCES users (id),
    decided_by          uuid REFERENCES users (id),
    notice_ends_at      timestamptz,
    objection           text CHECK (length(objection) <= 10000),
    objection_at        timestamptz,
    objection_reviewer  uuid REFERENCES users (id),
    policy_version      text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    version             integer NOT NULL DEFAULT 1,
    CHECK (requester_kind = 'system' OR requester_id IS NOT NULL),
    CHECK (proposed_by IS NULL OR decided_by IS NULL OR proposed_by <> decided_by)
);
CREATE INDEX cases_worker_idx ON cases (worker_id, created_at);
CREATE INDEX cases_open_idx ON cases (state, updated_at) WHERE state NOT IN ('executed', 'withdrawn', 'closed');
CREATE INDEX cases_notice_idx ON cases (notice_ends_at) WHERE state = 'notice_period';

-- The timeline: every transition with actor, time, reason and the states before and after.
CREATE TABLE case_events (
    id              bigserial PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases (id),
    actor_kind      text NOT NULL CHECK (actor_kind IN ('user', 'system')),
    actor_id        uuid REFERENCES users (id),
    command         text NOT NULL,
    from_state      text NOT NULL,
    to_state        text NOT NULL,
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 10000),
    occurred_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_events_case_idx ON case_events (case_id, id);
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

-- Evidence content, addressed by its SHA-256; never modified or deleted.
CREATE TABLE evidence_blobs (
    sha256          bytea PRIMARY KEY CHECK (length(sha256) = 32),
    content         bytea NOT NULL,
    size_bytes      integer NOT NULL CHECK (size_bytes >= 0),
    stored_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE evidence (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id         uuid NOT NULL REFERENCES cases (id),
    sha256          bytea NOT NULL REFERENCES evidence_blobs (sha256),
    filename        text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    content_type    text NOT NULL,
    size_bytes      integer NOT NULL,
    description     text CHECK (length(description) <= 2000),
    uploaded_by     uuid REFERENCES users (id),
    uploaded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_case_idx ON evidence (case_id);
CREATE TRIGGER evidence_blobs_append_only BEFORE UPDATE OR DELETE ON evidence_blobs
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();
CREATE TRIGGER evidence_append_only BEFORE UPDATE OR DELETE ON evidence
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

-- Interim suspensions: separate recorded decisions with their own reasons.
CREATE TABLE suspensions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    case_id         uuid REFERENCES cases (id),
    flag_id         uuid REFERENCES flags (id),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    decided_by      uuid REFERENCES users (id),
    started_at      timestamptz NOT NULL DEFAULT now(),
    lifted_at       timestamptz,
    lifted_by       uuid REFERENCES users (id),
    lift_reason     text
);
CREATE INDEX suspensions_worker_idx ON suspensions (worker_id) WHERE lifted_at IS NULL;

CREATE TABLE bans (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id               uuid NOT NULL REFERENCES workers (id),
    case_id                 uuid NOT NULL UNIQUE REFERENCES cases (id),
    executed_at             timestamptz NOT NULL DEFAULT now(),
    lifted_at               timestamptz,
    lifted_by_case_id       uuid REFERENCES cases (id)
);
CREATE UNIQUE INDEX bans_one_active_idx ON bans (worker_id) WHERE lifted_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON cases, suspensions, bans TO registry_app;
GRANT SELECT, INSERT ON case_events, evidence_blobs, evidence TO registry_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO registry_app;
