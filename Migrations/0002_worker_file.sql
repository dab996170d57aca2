-- The worker's file: identity, custody, tenures, qualifications, skills and transfers.

CREATE TABLE workers (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- National ID number: AES-GCM sealed box (nonce || ciphertext || tag), never clear text.
    id_ciphertext       bytea NOT NULL,
    -- HMAC-SHA256 of the normalised ID number under the blind-index key: the only way to find a file.
    id_blind_index      bytea NOT NULL UNIQUE CHECK (length(id_blind_index) = 32),
    id_key_version      smallint NOT NULL DEFAULT 1,
    full_name           text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 100),
    birth_date          date NOT NULL,
    sex                 text NOT NULL CHECK (sex IN ('F', 'M')),
    phone               text CHECK (phone ~ '^\+?[0-9]{6,20}$'),
    home_region         text NOT NULL CHECK (home_region ~ '^[0-9]{6}$'),
    service_categories  text[] NOT NULL DEFAULT '{}',
    current_agency_id   uuid NOT NULL REFERENCES agencies (id),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
    registered_at       timestamptz NOT NULL DEFAULT now(),
    registered_by       uuid REFERENCES users (id)
);
CREATE INDEX workers_agency_idx ON workers (current_agency_id, full_name);
CREATE INDEX workers_status_idx ON workers (status) WHERE status <> 'active';

ALTER TABLE users ADD CONSTRAINT users_worker_fk FOREIGN KEY (worker_id) REFERENCES workers (id);

-- One tenure per agency period. Sealed tenures never change; no tenure is ever deleted.
CREATE TABLE tenures (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id           uuid NOT NULL REFERENCES workers (id),
    agency_id           uuid NOT NULL REFERENCES agencies (id),
    started_on          date NOT NULL,
    ended_on            date CHECK (ended_on IS NULL OR ended_on >= started_on),
    work_ability        text CHECK (length(work_ability) <= 2000),
    health_status       text CHECK (length(health_status) <= 500),
    feedback_summary    text CHECK (length(feedback_summary) <= 2000),
    ethics_rating       smallint CHECK (ethics_rating BETWEEN 1 AND 5),
    ethics_note         text CHECK (length(ethics_note) <= 2000),
    sealed_at           timestamptz,
    sealed_by           uuid REFERENCES users (id),
    sealed_how          text CHECK (sealed_how IN ('agency', 'deadline')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((sealed_at IS NULL) = (sealed_how IS NULL))
);
CREATE UNIQUE INDEX tenures_one_open_idx ON tenures (worker_id) WHERE sealed_at IS NULL;
CREATE INDEX tenures_worker_idx ON tenures (worker_id, started_on);

CREATE FUNCTION tenures_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'tenures are never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.sealed_at IS NOT NULL THEN
        RAISE EXCEPTION 'tenure % is sealed and cannot change', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tenures_sealed_guard BEFORE UPDATE OR DELETE ON tenures
    FOR EACH ROW EXECUTE FUNCTION tenures_guard();

CREATE TABLE trainings (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    tenure_id       uuid NOT NULL REFERENCES tenures (id),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    kind            text NOT NULL CHECK (kind IN ('training', 'certificate')),
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    issuer          text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 200),
    category        text CHECK (category ~ '^[a-z_]{2,40}$'),
    certificate_no  text CHECK (length(certificate_no) <= 100),
    issued_on       date NOT NULL,
    expires_on      date CHECK (expires_on IS NULL OR expires_on >= issued_on),
    hours           integer CHECK (hours BETWEEN 1 AND 10000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      uuid REFERENCES users (id)
);
CREATE INDEX trainings_worker_idx ON trainings (worker_id, issued_on);

CREATE TABLE health_certificates (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    tenure_id       uuid NOT NULL REFERENCES tenures (id),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    issuer          text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 200),
    certificate_no  text CHECK (length(certificate_no) <= 100),
    issued_on       date NOT NULL,
    valid_until     date NOT NULL CHECK (valid_until >= issued_on),
    result          text NOT NULL DEFAULT 'fit' CHECK (result IN ('fit', 'restricted', 'unfit')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      uuid REFERENCES users (id)
);
CREATE INDEX health_certificates_worker_idx ON health_certificates (worker_id, valid_until);

-- Skill assessments per service category, at levels 1-5 (初级 .. 高级技师).
CREATE TABLE skill_assessments (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    tenure_id       uuid NOT NULL REFERENCES tenures (id),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    category        text NOT NULL CHECK (category ~ '^[a-z_]{2,40}$'),
    level           smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    assessed_on     date NOT NULL,
    assessor        text NOT NULL CHECK (length(assessor) BETWEEN 1 AND 200),
    note            text CHECK (length(note) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      uuid REFERENCES users (id)
);
CREATE INDEX skill_assessments_worker_idx ON skill_assessments (worker_id, category, assessed_on DESC);

CREATE TRIGGER trainings_append_only BEFORE UPDATE OR DELETE ON trainings
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();
CREATE TRIGGER health_certificates_append_only BEFORE UPDATE OR DELETE ON health_certificates
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();
CREATE TRIGGER skill_assessments_append_only BEFORE UPDATE OR DELETE ON skill_assessments
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

-- Transfer of custody (续接): requested by the new agency, consented to by the worker, completed
-- when the old agency seals its tenure or the deadline passes.
CREATE TABLE transfers (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id           uuid NOT NULL REFERENCES workers (id),
    from_agency_id      uuid NOT NULL REFERENCES agencies (id),
    to_agency_id        uuid NOT NULL REFERENCES agencies (id),
    status              text NOT NULL DEFAULT 'requested'
                        CHECK (status IN ('requested', 'consented', 'completed', 'rejected', 'cancelled')),
    requested_at        timestamptz NOT NULL DEFAULT now(),
    requested_by        uuid NOT NULL REFERENCES users (id),
    -- One-time consent code sent to the worker's phone, stored as a hash.
    consent_code_hash   bytea,
    consent_code_expires_at timestamptz,
    consent_attempts    integer NOT NULL DEFAULT 0,
    consented_at        timestamptz,
    consent_method      text CHECK (consent_method IN ('account', 'code')),
    seal_deadline       timestamptz,
    completed_at        timestamptz,
    completed_how       text CHECK (completed_how IN ('sealed', 'deadline')),
    closed_at           timestamptz,
    closed_by           uuid REFERENCES users (id),
    close_reason        text CHECK (length(close_reason) <= 1000),
    CHECK (from_agency_id <> to_agency_id)
);
-- Two agencies racing for one worker: exactly one open transfer.
CREATE UNIQUE INDEX transfers_one_open_idx ON transfers (worker_id) WHERE status IN ('requested', 'consented');
CREATE INDEX transfers_to_idx ON transfers (to_agency_id, status);
CREATE INDEX transfers_from_idx ON transfers (from_agency_id, status);
CREATE INDEX transfers_deadline_idx ON transfers (seal_deadline) WHERE status = 'consented';

GRANT SELECT, INSERT, UPDATE ON workers, tenures, transfers TO registry_app;
GRANT SELECT, INSERT ON trainings, health_certificates, skill_assessments TO registry_app;
