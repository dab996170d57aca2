-- Accounts, agencies, integrations, sessions, login throttling, and the audit chain.
--
-- Two database roles: the owner (who runs these migrations) and registry_app, the role the
-- service uses at run time. registry_app gets only the privileges listed at the end of each
-- migration; in particular it can never UPDATE, DELETE or TRUNCATE the audit tables.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'registry_app') THEN
        CREATE ROLE registry_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION
    -- Roles are cluster-wide: another database's migration may have created it just now.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- Generic guard used by append-only tables.
CREATE FUNCTION registry_forbid_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE agencies (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Unified social credit code (GB 32100-2015): a public business identifier.
    uscc            text NOT NULL UNIQUE CHECK (uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    region_code     text NOT NULL CHECK (region_code ~ '^[0-9]{6}$'),
    contact_name    text NOT NULL CHECK (length(contact_name) BETWEEN 1 AND 100),
    contact_phone   text CHECK (contact_phone ~ '^\+?[0-9]{6,20}$'),
    contact_email   text CHECK (contact_email = lower(contact_email) AND length(contact_email) <= 254),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'approved', 'suspended', 'rejected')),
    status_reason   text,
    applied_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    decided_by      uuid
);
CREATE INDEX agencies_status_idx ON agencies (status, applied_at);

CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    role                text NOT NULL CHECK (role IN ('admin', 'agency_staff', 'employer', 'worker')),
    email               text UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    phone               text UNIQUE CHECK (phone ~ '^\+?[0-9]{6,20}$'),
    display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    -- argon2id PHC string; NULL until the account is activated (workers set their own).
    password_hash       text,
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'disabled', 'pending_activation')),
    agency_id           uuid REFERENCES agencies (id),
    -- Set for role = 'worker'; the foreign key is added with the workers table.
    worker_id           uuid UNIQUE,
    -- Employers: the household.
    household_name      text CHECK (length(household_name) <= 100),
    region_code         text CHECK (region_code ~ '^[0-9]{6}$'),
    locale              text NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz,
    CHECK (email IS NOT NULL OR phone IS NOT NULL),
    CHECK ((role = 'agency_staff') = (agency_id IS NOT NULL)),
    CHECK (role = 'worker' OR worker_id IS NULL)
);
CREATE INDEX users_agency_idx ON users (agency_id) WHERE agency_id IS NOT NULL;

ALTER TABLE agencies ADD CONSTRAINT agencies_decided_by_fk FOREIGN KEY (decided_by) REFERENCES users (id);

-- Server-side sessions: only the SHA-256 of the bearer token is stored.
CREATE TABLE sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    user_id         uuid NOT NULL REFERENCES users (id),
    csrf_token      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    client_address  text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Login throttling, shared by every node. key is 'account:<sha256 of identifier>' or 'address:<ip>'.
CREATE TABLE login_throttle (
    key             text PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    window_started  timestamptz NOT NULL DEFAULT now(),
    blocked_until   timestamptz
);

-- Generic request throttle (public ban lookup, consent code attempts, ...).
CREATE TABLE rate_limits (
    key             text NOT NULL,
    window_start    timestamptz NOT NULL,
    hits            integer NOT NULL DEFAULT 0,
    PRIMARY KEY (key, window_start)
);

-- Police and credit-bureau systems.
CREATE TABLE integration_sources (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{1,62}$'),
    kind            text NOT NULL CHECK (kind IN ('police', 'credit_bureau')),
    display_name    text NOT NULL,
    -- Per-source HMAC secret for signed bodies, AES-GCM encrypted.
    signing_secret_enc bytea,
    require_signature boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      uuid REFERENCES users (id)
);

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_id       uuid NOT NULL REFERENCES integration_sources (id),
    -- The first characters of the key, shown in lists so an operator can tell keys apart.
    key_prefix      text NOT NULL,
    key_hash        bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    label           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      uuid REFERENCES users (id),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    revoked_by      uuid REFERENCES users (id)
);
CREATE INDEX api_keys_source_idx ON api_keys (source_id);

-- Messages to people (SMS, e-mail). Written in the transaction of the change that causes
-- them and delivered by the notifier afterwards, so a notice is never lost.
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    channel         text NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient       text NOT NULL,
    template        text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    attempts        integer NOT NULL DEFAULT 0
);
CREATE INDEX notifications_pending_idx ON notifications (id) WHERE sent_at IS NULL;

-- ---------------------------------------------------------------------------------------------
-- Audit: events are inserted concurrently by writers in their own transactions (audit_log and
-- audit_queue); a sequencer later appends them to audit_chain in commit order, linking each
-- to the previous by SHA-256. Nobody serialises on a global head while writing.

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_kind      text NOT NULL CHECK (actor_kind IN ('user', 'integration', 'system')),
    actor_id        uuid,
    actor_role      text,
    action          text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
    subject_type    text NOT NULL,
    subject_id      text,
    request_id      text,
    details         jsonb NOT NULL DEFAULT '{}',
    content_hash    bytea NOT NULL
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_type, subject_id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, occurred_at);
CREATE INDEX audit_log_time_brin ON audit_log USING brin (occurred_at);

-- The canonical content of an audit row, hashed at insert and recomputed by `audit verify`.
CREATE FUNCTION audit_content_hash(
    p_id bigint, p_occurred_at timestamptz, p_actor_kind text, p_actor_id uuid, p_actor_role text,
    p_action text, p_subject_type text, p_subject_id text, p_request_id text, p_details jsonb
) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(
        concat_ws(chr(31),
            p_id::text,
            (extract(epoch FROM p_occurred_at) * 1000000)::bigint::text,
            p_actor_kind, coalesce(p_actor_id::text, ''), coalesce(p_actor_role, ''),
            p_action, p_subject_type, coalesce(p_subject_id, ''), coalesce(p_request_id, ''),
            p_details::text),
        'UTF8'))
$$;

CREATE FUNCTION audit_log_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.content_hash := audit_content_hash(NEW.id, NEW.occurred_at, NEW.actor_kind, NEW.actor_id,
        NEW.actor_role, NEW.action, NEW.subject_type, NEW.subject_id, NEW.request_id, NEW.details);
    INSERT INTO audit_queue (event_id) VALUES (NEW.id);
    RETURN NEW;
END
$$;

CREATE TABLE audit_queue (
    event_id        bigint PRIMARY KEY
);

CREATE TABLE audit_chain (
    seq             bigint PRIMARY KEY CHECK (seq >= 1),
    event_id        bigint NOT NULL UNIQUE REFERENCES audit_log (id),
    prev_hash       bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash            bytea NOT NULL CHECK (length(hash) = 32),
    sequenced_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Checkpoints of the head; also written outside the database by `registry audit checkpoint`.
CREATE TABLE audit_checkpoints (
    seq             bigint PRIMARY KEY,
    hash            bytea NOT NULL,
    taken_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER audit_log_hash BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_before_insert();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION registry_forbid_change();

-- The chain link: hash = SHA-256(prev_hash || content_hash || seq).
CREATE FUNCTION audit_link_hash(p_prev bytea, p_content bytea, p_seq bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(p_prev || p_content || convert_to(p_seq::text, 'UTF8'))
$$;

-- The sequencer: moves up to p_limit queued events into the chain, in event-id order within
-- the batch. One sequencer at a time (advisory lock); returns how many events were chained.
-- An event whose writer commits late is simply chained by a later run.
CREATE FUNCTION audit_integrate(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_seq   bigint;
    v_prev  bytea;
    v_hash  bytea;
    v_count integer := 0;
    r       record;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('registry.audit.sequencer')) THEN
        RETURN 0;
    END IF;
    SELECT seq, hash INTO v_seq, v_hash FROM audit_chain ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        v_seq := 0;
        v_hash := decode(repeat('00', 32), 'hex');
    END IF;
    FOR r IN
        WITH taken AS (
            DELETE FROM audit_queue
            WHERE event_id IN (SELECT event_id FROM audit_queue ORDER BY event_id LIMIT p_limit)
            RETURNING event_id
        )
        SELECT l.id, l.content_hash FROM taken t JOIN audit_log l ON l.id = t.event_id ORDER BY l.id
    LOOP
        v_seq := v_seq + 1;
        v_prev := v_hash;
        v_hash := audit_link_hash(v_prev, r.content_hash, v_seq);
        INSERT INTO audit_chain (seq, event_id, prev_hash, hash) VALUES (v_seq, r.id, v_prev, v_hash);
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;

-- Run-time privileges of the service role.
GRANT USAGE ON SCHEMA public TO registry_app;
GRANT SELECT, INSERT, UPDATE ON agencies, users, sessions, integration_sources, api_keys, notifications
    TO registry_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle, rate_limits TO registry_app;
GRANT SELECT, INSERT ON audit_log, audit_chain, audit_checkpoints TO registry_app;
GRANT SELECT, INSERT, DELETE ON audit_queue TO registry_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO registry_app;
