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

-- The replication clock: with a read copy configured (DATABASE_READ_URL), every node writes the
-- time here on the primary each second and reads it back from the copy; the difference is how
-- far behind the copy is, whatever kind of copy it is.
CREATE TABLE replication_clock (
    id       integer PRIMARY KEY CHECK (id = 1),
    beat_at  timestamptz NOT NULL
);
INSERT INTO replication_clock (id, beat_at) VALUES (1, now());

GRANT SELECT, UPDATE ON replication_clock TO registry_app;
