-- Hardening: feed request nonces (a signed request is accepted once), and indexes for the
-- hot look-ups that had none.

-- A signed feed request names a nonce; it is kept until the signature window has passed, so
-- the same request (or a captured one) cannot be replayed while its timestamp is still fresh.
CREATE TABLE feed_nonces (
    source_id   uuid NOT NULL REFERENCES integration_sources (id),
    nonce       text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (source_id, nonce)
);
CREATE INDEX feed_nonces_expiry_idx ON feed_nonces (expires_at);

CREATE INDEX cases_requester_idx ON cases (requester_id) WHERE requester_id IS NOT NULL;
CREATE INDEX cases_origin_flag_idx ON cases (origin_flag_id) WHERE origin_flag_id IS NOT NULL;
CREATE INDEX suspensions_flag_idx ON suspensions (flag_id) WHERE flag_id IS NOT NULL;
CREATE INDEX flag_disputes_worker_idx ON flag_disputes (worker_id);
GRANT SELECT, INSERT, DELETE ON feed_nonces TO registry_app;

-- One form per phone number: a Chinese mobile number given with its country code (+86, 0086,
-- 86) is kept as the national number, as the service now normalises it, so that the same
-- number typed two ways is one account. An account whose other form is already taken keeps its own.
UPDATE users u SET phone = substring(u.phone from '^(?:\+|00)?86(1[0-9]{10})$')
WHERE u.phone ~ '^(\+|00)?861[0-9]{10}$'
  AND NOT EXISTS (SELECT 1 FROM users v WHERE v.phone = substring(u.phone from '^(?:\+|00)?86(1[0-9]{10})$'));
UPDATE workers SET phone = substring(phone from '^(?:\+|00)?86(1[0-9]{10})$') WHERE phone ~ '^(\+|00)?861[0-9]{10}$';
UPDATE agencies SET contact_phone = substring(contact_phone from '^(?:\+|00)?86(1[0-9]{10})$')
WHERE contact_phone ~ '^(\+|00)?861[0-9]{10}$';

-- A unified social credit code is held only by a live application or agency: a rejected
-- application frees it, so that whoever applied first cannot hold a company's code for ever.
ALTER TABLE agencies DROP CONSTRAINT agencies_uscc_key;
CREATE UNIQUE INDEX agencies_uscc_live_idx ON agencies (uscc) WHERE status <> 'rejected';

-- Consent codes sent for a transfer (the first included): resending is capped over its life,
-- and wrong attempts are no longer reset by a new code.
ALTER TABLE transfers ADD COLUMN codes_sent integer NOT NULL DEFAULT 1 CHECK (codes_sent >= 0);

-- Only the sequencer writes the chain. The service role used to hold INSERT on audit_chain and
-- DELETE on audit_queue, so a compromised service could chain events out of order or drop them
-- from the queue; now audit_integrate runs with the rights of registry_sequencer (a role nobody
-- signs in as), and the service may only call it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'registry_sequencer') THEN
        CREATE ROLE registry_sequencer NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
GRANT registry_sequencer TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO registry_sequencer;
GRANT SELECT ON audit_log TO registry_sequencer;
GRANT SELECT, INSERT ON audit_chain TO registry_sequencer;
GRANT SELECT, DELETE ON audit_queue TO registry_sequencer;
ALTER FUNCTION audit_integrate(integer) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION audit_integrate(integer) OWNER TO registry_sequencer;
REVOKE ALL ON FUNCTION audit_integrate(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_integrate(integer) TO registry_app;
REVOKE INSERT ON audit_chain FROM registry_app;
REVOKE DELETE ON audit_queue FROM registry_app;
