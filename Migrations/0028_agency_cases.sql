-- 0028: a case against an agency whose demerit points in force reached the case threshold
-- (Policies/demerits.yaml), adjudicated like a worker's: one administrator proposes an outcome
-- (suspend the agency, or dismiss), the agency is told and may object until objection_until, and
-- a second administrator, never the proposer, decides. One open case per agency.
CREATE TABLE agency_cases (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agency_id        uuid NOT NULL REFERENCES agencies (id),
    opened_at        timestamptz NOT NULL DEFAULT now(),
    points           int NOT NULL CHECK (points >= 0),
    state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'proposed', 'objected', 'decided')),
    proposal         text CHECK (proposal IN ('suspend_agency', 'dismiss')),
    proposal_reason  text CHECK (length(proposal_reason) BETWEEN 1 AND 2000),
    proposed_by      uuid REFERENCES users (id),
    proposed_at      timestamptz,
    objection_until  timestamptz,
    objection        text CHECK (length(objection) BETWEEN 1 AND 4000),
    objected_by      uuid REFERENCES users (id),
    objected_at      timestamptz,
    outcome          text CHECK (outcome IN ('suspend_agency', 'dismiss')),
    decision_reason  text CHECK (length(decision_reason) BETWEEN 1 AND 2000),
    decided_by       uuid REFERENCES users (id),
    decided_at       timestamptz,
    CHECK (decided_by IS NULL OR decided_by <> proposed_by),
    CHECK ((state = 'open') = (proposal IS NULL)),
    CHECK ((state = 'decided') = (outcome IS NOT NULL))
);
CREATE UNIQUE INDEX agency_cases_one_open_idx ON agency_cases (agency_id) WHERE state <> 'decided';
CREATE INDEX agency_cases_state_idx ON agency_cases (state, opened_at);
GRANT SELECT, INSERT, UPDATE ON agency_cases TO registry_app;
