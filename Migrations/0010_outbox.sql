-- The outbox, made reliable. Each message now has a state (pending → sending → sent, or dead after
-- the policy's attempts), the time of its next attempt (exponential backoff with jitter), a lease
-- while a dispatcher sends it (so a dead node's messages are taken over, never held for ever, and
-- no transaction stays open across a delivery), an idempotency key (one message per key; the
-- gateway is given the key, so a message re-sent after a crash between sending and marking is
-- dropped there), the recipient's language, the provider's message id and the last error (a
-- class of failure, never the message's text).
ALTER TABLE notifications
    ADD COLUMN status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    ADD COLUMN language        text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    ADD COLUMN idempotency_key text,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN lease_until     timestamptz,
    ADD COLUMN provider_id     text,
    ADD COLUMN last_error      text;

UPDATE notifications SET status = 'sent' WHERE sent_at IS NOT NULL;
UPDATE notifications SET idempotency_key = 'notification-' || id WHERE idempotency_key IS NULL;
ALTER TABLE notifications ALTER COLUMN idempotency_key SET NOT NULL;
CREATE UNIQUE INDEX notifications_idempotency_idx ON notifications (idempotency_key);

DROP INDEX notifications_pending_idx;
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notifications_dead_idx ON notifications (id) WHERE status = 'dead';

-- Demo mode only: the messages the demo "sends", as their recipients would read them, shown to
-- administrators on /demo/outbox so a newcomer can follow activation and transfer without a phone.
CREATE TABLE demo_mailbox (
    id              bigserial PRIMARY KEY,
    notification_id bigint NOT NULL UNIQUE REFERENCES notifications (id),
    channel         text NOT NULL,
    recipient       text NOT NULL,
    kind            text NOT NULL,
    body            text NOT NULL,
    delivered_at    timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON demo_mailbox TO registry_app;
GRANT USAGE, SELECT ON SEQUENCE demo_mailbox_id_seq TO registry_app;
