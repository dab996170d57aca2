-- Flags from police and credit bureaus; grades, their history and the regrade queue.

CREATE TABLE flags (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_id       uuid NOT NULL REFERENCES integration_sources (id),
    source_ref      text NOT NULL CHECK (length(source_ref) BETWEEN 1 AND 128),
    -- Matched through the blind index; worker_id is filled when (or once) the file exists.
    id_blind_index  bytea NOT NULL CHECK (length(id_blind_index) = 32),
    worker_id       uuid REFERENCES workers (id),
    category        text NOT NULL CHECK (category ~ '^[a-z_]{2,40}$'),
    severity        smallint NOT NULL CHECK (severity BETWEEN 1 AND 5),
    status          text NOT NULL
                    CHECK (status IN ('alleged', 'charged', 'convicted', 'adjudicated', 'retracted')),
    occurred_on     date NOT NULL,
    expires_on      date CHECK (expires_on IS NULL OR expires_on >= occurred_on),
    -- The source's narrative: encrypted, shown to nobody outside adjudication.
    narrative_enc   bytea,
    -- SHA-256 of the canonical content, so a replayed feed changes nothing.
    content_hash    bytea NOT NULL CHECK (length(content_hash) = 32),
    version         integer NOT NULL DEFAULT 1,
    received_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_id, source_ref)
);
CREATE INDEX flags_blind_index_idx ON flags (id_blind_index) WHERE worker_id IS NULL;
CREATE INDEX flags_worker_idx ON flags (worker_id, occurred_on) WHERE worker_id IS NOT NULL;
CREATE INDEX flags_received_brin ON flags USING brin (received_at);

-- Every version a source ever sent, for the audit of updates.
CREATE TABLE flag_versions (
    flag_id         uuid NOT NULL REFERENCES flags (id),
    version         integer NOT NULL,
    category        text NOT NULL,
    severity        smallint NOT NULL,
    status          text NOT NULL,
    occurred_on     date NOT NULL,
    expires_on      date,
    content_hash    bytea NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flag_id, version)
);
CREATE TRIGGER flag_versions_append_only BEFORE UPDATE OR DELETE ON flag_versions
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

-- The current grade of each worker.
CREATE TABLE grades (
    worker_id       uuid PRIMARY KEY REFERENCES workers (id),
    grade           text NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D', 'REVOKED')),
    composite       numeric(6, 2) NOT NULL,
    ethics_score    numeric(6, 2) NOT NULL,
    skill_score     numeric(6, 2) NOT NULL,
    skill_levels    jsonb NOT NULL DEFAULT '{}',
    reasons         jsonb NOT NULL DEFAULT '[]',
    computation     jsonb NOT NULL DEFAULT '{}',
    policy_version  text NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grades_grade_idx ON grades (grade);

CREATE TABLE grade_history (
    id              bigserial PRIMARY KEY,
    worker_id       uuid NOT NULL REFERENCES workers (id),
    from_grade      text,
    to_grade        text NOT NULL,
    composite       numeric(6, 2) NOT NULL,
    reasons         jsonb NOT NULL DEFAULT '[]',
    policy_version  text NOT NULL,
    cause           text NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grade_history_worker_idx ON grade_history (worker_id, changed_at);
CREATE TRIGGER grade_history_append_only BEFORE UPDATE OR DELETE ON grade_history
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

-- Durable regrade queue (outbox): one row per worker whose inputs changed, taken with
-- FOR UPDATE SKIP LOCKED by any node.
CREATE TABLE grade_queue (
    worker_id       uuid PRIMARY KEY REFERENCES workers (id),
    cause           text NOT NULL,
    enqueued_at     timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON flags, grades TO registry_app;
GRANT SELECT, INSERT ON flag_versions, grade_history TO registry_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON grade_queue TO registry_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO registry_app;
