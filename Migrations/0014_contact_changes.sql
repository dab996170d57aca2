-- Contact details that can change: a person changes her phone number or e-mail address from her
-- account with a one-time code sent to the new one (kept hashed, like activation codes), and an
-- administrator changes a worker's number after an in-person identity check.
CREATE TABLE contact_changes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id),
    kind            text NOT NULL CHECK (kind IN ('phone', 'email')),
    new_value       text NOT NULL CHECK (length(new_value) BETWEEN 6 AND 254),
    code_hash       bytea NOT NULL CHECK (length(code_hash) = 32),
    expires_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_changes_user_idx ON contact_changes (user_id, created_at DESC);
GRANT SELECT, INSERT, UPDATE, DELETE ON contact_changes TO registry_app;
