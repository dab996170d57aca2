-- Service nodes announce themselves: each running `registry serve` upserts its row every few
-- seconds (a heartbeat), so that /admin shows which nodes are live, which version each runs and
-- which database host it writes to. Nodes share nothing else but the database; a row not seen
-- for a week is forgotten.
CREATE TABLE service_nodes (
    id              text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    version         text NOT NULL CHECK (length(version) <= 200),
    address         text NOT NULL CHECK (length(address) <= 200),
    pid             integer NOT NULL CHECK (pid > 0),
    started_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    database_host   text CHECK (length(database_host) <= 300)
);

CREATE INDEX service_nodes_seen_idx ON service_nodes (last_seen_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON service_nodes TO registry_app;
