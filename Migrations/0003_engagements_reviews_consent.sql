-- Engagements, verified reviews, consent codes and the inquiry log.

CREATE TABLE engagements (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    agency_id       uuid NOT NULL REFERENCES agencies (id),
    employer_id     uuid NOT NULL REFERENCES users (id),
    category        text NOT NULL CHECK (category ~ '^[a-z_]{2,40}$'),
    starts_on       date NOT NULL,
    ends_on         date CHECK (ends_on IS NULL OR ends_on >= starts_on),
    status          text NOT NULL DEFAULT 'proposed'
                    CHECK (status IN ('proposed', 'confirmed', 'ended', 'cancelled')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      uuid NOT NULL REFERENCES users (id),
    confirmed_at    timestamptz,
    ended_at        timestamptz,
    ended_by        uuid REFERENCES users (id)
);
CREATE INDEX engagements_worker_idx ON engagements (worker_id, starts_on);
CREATE INDEX engagements_employer_idx ON engagements (employer_id, status);

-- One review per engagement, by its employer. Never edited; hidden only by an administrator.
CREATE TABLE reviews (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    engagement_id   uuid NOT NULL UNIQUE REFERENCES engagements (id),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    employer_id     uuid NOT NULL REFERENCES users (id),
    skill_scores    jsonb NOT NULL CHECK (jsonb_typeof(skill_scores) = 'object'),
    ethics_scores   jsonb NOT NULL CHECK (jsonb_typeof(ethics_scores) = 'object'),
    comment         text CHECK (length(comment) <= 2000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    hidden_at       timestamptz,
    hidden_by       uuid REFERENCES users (id),
    hidden_reason   text
);
CREATE INDEX reviews_worker_idx ON reviews (worker_id, created_at DESC);

CREATE TABLE review_replies (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    review_id       uuid NOT NULL UNIQUE REFERENCES reviews (id),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    body            text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE review_disputes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    review_id       uuid NOT NULL REFERENCES reviews (id),
    raised_by       uuid NOT NULL REFERENCES users (id),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'rejected')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    decided_by      uuid REFERENCES users (id),
    decision_note   text
);
CREATE UNIQUE INDEX review_disputes_one_open_idx ON review_disputes (review_id) WHERE status = 'open';

CREATE TRIGGER review_replies_append_only BEFORE UPDATE OR DELETE ON review_replies
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

-- Consent codes the worker (or her agency, with her confirmation) issues for one check.
CREATE TABLE consents (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    worker_id       uuid NOT NULL REFERENCES workers (id),
    code_hash       bytea NOT NULL UNIQUE CHECK (length(code_hash) = 32),
    issued_by       uuid NOT NULL REFERENCES users (id),
    issued_via      text NOT NULL CHECK (issued_via IN ('worker', 'agency')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    used_by         uuid REFERENCES users (id),
    revoked_at      timestamptz
);
CREATE INDEX consents_worker_idx ON consents (worker_id, created_at DESC);

-- Every view of a report by anyone but the worker.
CREATE TABLE inquiries (
    id              bigserial PRIMARY KEY,
    worker_id       uuid NOT NULL REFERENCES workers (id),
    viewer_id       uuid REFERENCES users (id),
    viewer_role     text NOT NULL,
    purpose         text NOT NULL,
    consent_id      uuid REFERENCES consents (id),
    engagement_id   uuid REFERENCES engagements (id),
    viewed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inquiries_worker_idx ON inquiries (worker_id, viewed_at DESC);
CREATE INDEX inquiries_time_brin ON inquiries USING brin (viewed_at);
CREATE TRIGGER inquiries_append_only BEFORE UPDATE OR DELETE ON inquiries
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

GRANT SELECT, INSERT, UPDATE ON engagements, reviews, review_disputes, consents TO registry_app;
GRANT SELECT, INSERT ON review_replies, inquiries TO registry_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO registry_app;
