-- Worker accounts are activated with a one-time code sent to the worker's phone; consent codes
-- grant a time-limited report access once redeemed; workers may list themselves for hire;
-- reviews record edits made within their edit window.

CREATE TABLE activation_codes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id),
    code_hash       bytea NOT NULL CHECK (length(code_hash) = 32),
    expires_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activation_codes_user_idx ON activation_codes (user_id, created_at DESC);

-- After an employer redeems a code she may read the report until access_until.
ALTER TABLE consents ADD COLUMN access_until timestamptz;
CREATE INDEX consents_used_by_idx ON consents (used_by, worker_id) WHERE used_by IS NOT NULL;

ALTER TABLE workers ADD COLUMN available_for_hire boolean NOT NULL DEFAULT false;
ALTER TABLE workers ADD COLUMN available_since timestamptz;
CREATE INDEX workers_available_idx ON workers (home_region) WHERE available_for_hire AND status = 'active';

ALTER TABLE reviews ADD COLUMN edited_at timestamptz;
ALTER TABLE reviews ADD COLUMN edit_count integer NOT NULL DEFAULT 0;

GRANT SELECT, INSERT, UPDATE ON activation_codes TO registry_app;
