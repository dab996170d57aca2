-- Time: a transfer request the worker never answers lapses after custody.yaml's
-- request_expiry_days (status 'expired'), so it no longer holds her file's one open transfer.
ALTER TABLE transfers DROP CONSTRAINT transfers_status_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_status_check
    CHECK (status IN ('requested', 'consented', 'completed', 'rejected', 'cancelled', 'expired'));
CREATE INDEX transfers_requested_idx ON transfers (requested_at) WHERE status = 'requested';
