-- Due process completed: the ban waits for the notice window, one appeal after execution,
-- objections and appeals entered on her behalf, evidence quotas per party with answers, and
-- administrators' declared ties (recusal).

ALTER TABLE cases DROP CONSTRAINT cases_state_check;
ALTER TABLE cases ADD CONSTRAINT cases_state_check CHECK (state IN (
    'submitted', 'under_review', 'awaiting_information', 'decision_proposed', 'decided', 'notice_period',
    'objection_review', 'final', 'executed', 'appeal_review', 'reversed', 'withdrawn', 'closed'));

-- Her objection: how it came (her account, in person, a letter, her agency with her consent),
-- who entered it, the letter or consent among the evidence, and how it was decided.
ALTER TABLE cases
    ADD COLUMN objection_channel     text CHECK (objection_channel IN ('worker', 'in_person', 'letter', 'agency')),
    ADD COLUMN objection_entered_by  uuid REFERENCES users (id),
    ADD COLUMN objection_evidence_id uuid REFERENCES evidence (id),
    ADD COLUMN objection_outcome     text CHECK (objection_outcome IN ('upheld', 'rejected')),
    ADD COLUMN executed_at           timestamptz,
    ADD COLUMN appeal                text CHECK (length(appeal) BETWEEN 1 AND 10000),
    ADD COLUMN appeal_at             timestamptz,
    ADD COLUMN appeal_channel        text CHECK (appeal_channel IN ('worker', 'in_person', 'letter', 'agency')),
    ADD COLUMN appeal_entered_by     uuid REFERENCES users (id),
    ADD COLUMN appeal_evidence_id    uuid REFERENCES evidence (id),
    ADD COLUMN appeal_outcome        text CHECK (appeal_outcome IN ('upheld', 'rejected')),
    ADD COLUMN appeal_decided_by     uuid REFERENCES users (id);

-- Cases executed before this migration: their execution time from the timeline.
UPDATE cases c SET executed_at = e.occurred_at
FROM (SELECT case_id, max(occurred_at) AS occurred_at FROM case_events WHERE command = 'execute' GROUP BY case_id) e
WHERE e.case_id = c.id AND c.state = 'executed';
UPDATE cases SET objection_channel = 'worker' WHERE objection IS NOT NULL;
UPDATE cases SET objection_outcome = CASE WHEN state = 'closed' THEN 'upheld' ELSE 'rejected' END
WHERE objection IS NOT NULL AND state IN ('closed', 'final', 'executed');

-- Time now waits on final decisions too: the window's end is the due day of both.
DROP INDEX cases_notice_idx;
CREATE INDEX cases_notice_idx ON cases (notice_ends_at) WHERE state IN ('notice_period', 'final');
CREATE INDEX cases_related_idx ON cases (related_case_id) WHERE related_case_id IS NOT NULL;

-- Whose evidence a file is: each party has its own quota. Files from before this migration have
-- none recorded; their party follows from who uploaded them (see CaseStore).
ALTER TABLE evidence ADD COLUMN party text CHECK (party IN ('requester', 'worker', 'registry'));

-- A party's answer to a file the other side filed. Never changed or deleted.
CREATE TABLE evidence_answers (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    evidence_id     uuid NOT NULL REFERENCES evidence (id),
    case_id         uuid NOT NULL REFERENCES cases (id),
    party           text NOT NULL CHECK (party IN ('requester', 'worker', 'registry')),
    body            text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    answered_by     uuid NOT NULL REFERENCES users (id),
    answered_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_answers_case_idx ON evidence_answers (case_id, answered_at);
CREATE TRIGGER evidence_answers_append_only BEFORE UPDATE OR DELETE ON evidence_answers
    FOR EACH ROW EXECUTE FUNCTION registry_forbid_change();

-- Ties an administrator declares: to a worker, to an agency, or to one case (a relative, a
-- former employer, an agency she worked for), in her words, with the reason. Anyone with a tie
-- cannot act on the cases it touches. A tie is ended (not deleted) when it no longer holds.
CREATE TABLE admin_ties (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    admin_id        uuid NOT NULL REFERENCES users (id),
    worker_id       uuid REFERENCES workers (id),
    agency_id       uuid REFERENCES agencies (id),
    case_id         uuid REFERENCES cases (id),
    description     text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    declared_at     timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    end_reason      text CHECK (length(end_reason) <= 500),
    CHECK (num_nonnulls(worker_id, agency_id, case_id) = 1)
);
CREATE INDEX admin_ties_worker_idx ON admin_ties (worker_id) WHERE ended_at IS NULL AND worker_id IS NOT NULL;
CREATE INDEX admin_ties_agency_idx ON admin_ties (agency_id) WHERE ended_at IS NULL AND agency_id IS NOT NULL;
CREATE INDEX admin_ties_case_idx ON admin_ties (case_id) WHERE ended_at IS NULL AND case_id IS NOT NULL;
CREATE INDEX admin_ties_admin_idx ON admin_ties (admin_id, declared_at);

GRANT SELECT, INSERT ON evidence_answers TO registry_app;
GRANT SELECT, INSERT, UPDATE ON admin_ties TO registry_app;
