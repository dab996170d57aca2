-- 0027: workers review households (Policies/households.yaml). One review per engagement, by its
-- worker, after it ended: four scores, what happened, and optionally a serious complaint. The
-- household replies once and may dispute it; an administrator decides a dispute (hide the review
-- or keep it) and whether a complaint is substantiated. Never public.
CREATE TABLE household_reviews (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    engagement_id     uuid NOT NULL UNIQUE REFERENCES engagements (id),
    worker_id         uuid NOT NULL REFERENCES workers (id),
    employer_id       uuid NOT NULL REFERENCES users (id),
    agency_id         uuid NOT NULL REFERENCES agencies (id),
    respect           smallint NOT NULL CHECK (respect BETWEEN 1 AND 5),
    pay_on_time       smallint NOT NULL CHECK (pay_on_time BETWEEN 1 AND 5),
    safety            smallint NOT NULL CHECK (safety BETWEEN 1 AND 5),
    agreed_duties     smallint NOT NULL CHECK (agreed_duties BETWEEN 1 AND 5),
    account           text CHECK (length(account) BETWEEN 1 AND 10000),
    complaint         text CHECK (complaint ~ '^[a-z_]{1,40}$'),
    complaint_status  text CHECK (complaint_status IN ('open', 'substantiated', 'unsubstantiated')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    reply             text CHECK (length(reply) BETWEEN 1 AND 10000),
    replied_at        timestamptz,
    dispute_reason    text CHECK (length(dispute_reason) BETWEEN 1 AND 10000),
    disputed_at       timestamptz,
    hidden            boolean NOT NULL DEFAULT false,
    decided_by        uuid REFERENCES users (id),
    decided_at        timestamptz,
    decision          text CHECK (decision IN ('substantiate', 'dismiss', 'hide', 'keep')),
    decision_note     text CHECK (length(decision_note) BETWEEN 1 AND 2000),
    CHECK ((complaint IS NULL) = (complaint_status IS NULL))
);
CREATE INDEX household_reviews_employer_idx ON household_reviews (employer_id, created_at DESC);
CREATE INDEX household_reviews_open_idx ON household_reviews (created_at)
    WHERE decided_at IS NULL AND (complaint_status = 'open' OR disputed_at IS NOT NULL);

-- A placement with a flagged household waits for the worker to see the warning and accept it.
ALTER TABLE engagements ADD COLUMN household_warning boolean NOT NULL DEFAULT false;
ALTER TABLE engagements ADD COLUMN worker_accepted_at timestamptz;

GRANT SELECT, INSERT, UPDATE ON household_reviews TO registry_app;
