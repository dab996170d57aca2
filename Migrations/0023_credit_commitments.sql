-- 0023: credit commitments (信用承诺). An agency's commitment, signed by its legal
-- representative (recorded by the staff member who enters the signature), and each staff
-- member's own acceptance; both per version of Policies/commitments.yaml, append-only.
CREATE TABLE credit_commitments (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('agency', 'staff')),
    version         text NOT NULL CHECK (version ~ '^[A-Za-z0-9._-]{1,32}$'),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    -- Staff: who accepted. Agency: who recorded the legal representative's signature.
    user_id         uuid NOT NULL REFERENCES users (id),
    -- Agency: the legal representative who signed.
    representative  text CHECK (representative IS NULL OR length(representative) BETWEEN 1 AND 100),
    accepted_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'agency') = (representative IS NOT NULL))
);
CREATE UNIQUE INDEX credit_commitments_agency_idx ON credit_commitments (agency_id, version) WHERE kind = 'agency';
CREATE UNIQUE INDEX credit_commitments_staff_idx ON credit_commitments (user_id, version) WHERE kind = 'staff';
GRANT SELECT, INSERT ON credit_commitments TO registry_app;
GRANT USAGE, SELECT ON SEQUENCE credit_commitments_id_seq TO registry_app;
