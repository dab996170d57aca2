-- Due process for two more kinds of record.
--
-- 1. A worker disputes the assessment an agency sealed on its tenure. Administrators decide in the
--    same queue as review disputes; the agency that wrote it may answer with a short statement.
--    An upheld dispute never touches the sealed tenure (its trigger forbids it): it adds an
--    annotation row marking the assessment overturned, with the administrator's reason.
CREATE TABLE tenure_disputes (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenure_id           uuid NOT NULL REFERENCES tenures (id),
    worker_id           uuid NOT NULL REFERENCES workers (id),
    agency_id           uuid NOT NULL REFERENCES agencies (id),
    raised_by           uuid NOT NULL REFERENCES users (id),
    reason              text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'rejected')),
    agency_statement    text CHECK (length(agency_statement) BETWEEN 1 AND 2000),
    agency_answered_at  timestamptz,
    agency_answered_by  uuid REFERENCES users (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    decided_at          timestamptz,
    decided_by          uuid REFERENCES users (id),
    decision_note       text CHECK (length(decision_note) BETWEEN 1 AND 2000),
    CHECK ((agency_statement IS NULL) = (agency_answered_at IS NULL)),
    CHECK ((status = 'open') = (decided_at IS NULL))
);
-- One open dispute per assessment.
CREATE UNIQUE INDEX tenure_disputes_one_open_idx ON tenure_disputes (tenure_id) WHERE status = 'open';
CREATE INDEX tenure_disputes_worker_idx ON tenure_disputes (worker_id, created_at DESC);
CREATE INDEX tenure_disputes_agency_open_idx ON tenure_disputes (agency_id, created_at) WHERE status = 'open';

CREATE TABLE tenure_annotations (
    tenure_id       uuid PRIMARY KEY REFERENCES tenures (id),
    dispute_id      uuid NOT NULL UNIQUE REFERENCES tenure_disputes (id),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    created_by      uuid NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER tenure_annotations_append_only BEFORE UPDATE OR DELETE ON tenure_annotations
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

-- 2. Credit repair (信用修复): the worker applies to repair a flag on her file, after the period
--    flags.yaml sets for its category or at any time on proof of correction (a statement and a
--    file, stored content-addressed in evidence_blobs like case evidence). An administrator who
--    is not the applicant approves or refuses. An approved repair is never undone.
CREATE TABLE repair_proofs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    sha256          bytea NOT NULL REFERENCES evidence_blobs (sha256),
    filename        text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    content_type    text NOT NULL,
    size_bytes      integer NOT NULL CHECK (size_bytes >= 0),
    uploaded_by     uuid NOT NULL REFERENCES users (id),
    uploaded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX repair_proofs_worker_idx ON repair_proofs (worker_id, uploaded_at DESC);
CREATE TRIGGER repair_proofs_append_only BEFORE UPDATE OR DELETE ON repair_proofs
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

CREATE TABLE flag_repairs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    flag_id         uuid NOT NULL REFERENCES flags (id),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    applied_by      uuid NOT NULL REFERENCES users (id),
    basis           text NOT NULL CHECK (basis IN ('period', 'proof')),
    statement       text CHECK (length(statement) BETWEEN 1 AND 2000),
    proof_id        uuid UNIQUE REFERENCES repair_proofs (id),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'refused')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    decided_by      uuid REFERENCES users (id),
    decision_reason text CHECK (length(decision_reason) BETWEEN 1 AND 2000),
    CHECK (basis <> 'proof' OR (proof_id IS NOT NULL AND statement IS NOT NULL)),
    CHECK ((status = 'open') = (decided_at IS NULL)),
    CHECK (decided_by IS NULL OR decided_by <> applied_by)
);
-- An open application blocks another for the same flag; a repaired flag is repaired once.
CREATE UNIQUE INDEX flag_repairs_one_open_idx ON flag_repairs (flag_id) WHERE status = 'open';
CREATE UNIQUE INDEX flag_repairs_one_approved_idx ON flag_repairs (flag_id) WHERE status = 'approved';
CREATE INDEX flag_repairs_worker_idx ON flag_repairs (worker_id, created_at DESC);
CREATE INDEX flag_repairs_open_idx ON flag_repairs (created_at) WHERE status = 'open';

-- A decided repair is final.
CREATE FUNCTION flag_repairs_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'repair applications are never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status <> 'open' THEN
        RAISE EXCEPTION 'repair application % is decided and cannot change', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER flag_repairs_decided_guard BEFORE UPDATE OR DELETE ON flag_repairs
    FOR EACH ROW EXECUTE FUNCTION flag_repairs_guard();

GRANT SELECT, INSERT, UPDATE ON tenure_disputes, flag_repairs TO registry_app;
GRANT SELECT, INSERT ON tenure_annotations, repair_proofs TO registry_app;
