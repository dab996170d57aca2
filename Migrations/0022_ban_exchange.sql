-- 0022: sharing bans with other registries (联合惩戒).
--
-- 1. Every ban that takes effect and every ban lifted is an event, numbered in the order it
--    happened: another registry pulls the events after the last number it has
--    (GET /api/v1/exchange/bans?after=N). Existing bans are numbered by their times.
CREATE TABLE ban_events (
    seq         bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('ban', 'reinstatement')),
    worker_id   uuid NOT NULL REFERENCES workers (id),
    -- The case whose ban this is (for a reinstatement: the ban it lifts).
    case_id     uuid NOT NULL REFERENCES cases (id),
    occurred_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ban_events (kind, worker_id, case_id, occurred_at)
SELECT kind, worker_id, case_id, at FROM (
    SELECT 'ban' AS kind, worker_id, case_id, executed_at AS at FROM bans
    UNION ALL
    SELECT 'reinstatement', worker_id, case_id, lifted_at FROM bans WHERE lifted_at IS NOT NULL
) e
ORDER BY at, kind;
GRANT SELECT, INSERT ON ban_events TO registry_app;
GRANT USAGE, SELECT ON SEQUENCE ban_events_seq_seq TO registry_app;

-- 2. A source may be another registry, whose bans arrive as flags.
ALTER TABLE integration_sources DROP CONSTRAINT integration_sources_kind_check;
ALTER TABLE integration_sources ADD CONSTRAINT integration_sources_kind_check
    CHECK (kind IN ('police', 'credit_bureau', 'registry'));

-- 3. How far this registry has read each other registry's events.
CREATE TABLE exchange_cursors (
    source_id   uuid PRIMARY KEY REFERENCES integration_sources (id),
    after_seq   bigint NOT NULL DEFAULT 0 CHECK (after_seq >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON exchange_cursors TO registry_app;
