import Foundation
import Logging
import PostgresNIO

/// The outbox of messages to people (SMS, e-mail). A message is written in the transaction that
/// causes it, with an idempotency key (one message per key); dispatchers claim due messages with a
/// lease (`FOR UPDATE SKIP LOCKED`, safe with several nodes), deliver them outside any
/// transaction, then mark each sent (its parameters cleared), failed (tried again later) or dead.
public enum NotificationStore {
    /// Queues a message. `key` names it (a second message with the same key is not queued);
    /// without one, each call queues its own message.
    public static func enqueue(
        channel: String,
        recipient: String,
        template: String,
        payload: [String: String],
        language: String = "zh-CN",
        key: String? = nil,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        let json = String(decoding: try JSONEncoder().encode(payload), as: UTF8.self)
        let key = key ?? "message-" + UUID().uuidString.lowercased()
        try await connection.query(
            """
            INSERT INTO notifications (channel, recipient, template, payload, language, idempotency_key)
            VALUES (\(channel), \(recipient), \(template), \(json)::jsonb, \(language), \(key))
            ON CONFLICT (idempotency_key) DO NOTHING
            """,
            logger: logger
        )
    }

    /// Queues one message of `template` per recipient (parallel arrays), each under its own key,
    /// in one statement; a key already queued is skipped.
    public static func enqueueAll(
        channel: String,
        recipients: [String],
        template: String,
        payloads: [[String: String]],
        keys: [String],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        guard !recipients.isEmpty else { return }
        precondition(recipients.count == payloads.count && recipients.count == keys.count)
        let json = try payloads.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try await connection.query(
            """
            INSERT INTO notifications (channel, recipient, template, payload, language, idempotency_key)
            SELECT \(channel), r, \(template), p::jsonb, 'zh-CN', k
            FROM unnest(\(recipients)::text[], \(json)::text[], \(keys)::text[]) AS u(r, p, k)
            ON CONFLICT (idempotency_key) DO NOTHING
            """,
            logger: logger
        )
    }

    public struct Pending: Sendable {
        public var id: Int64
        public var key: String
        public var channel: String
        public var recipient: String
        public var template: String
        public var language: String
        public var payload: [String: String]
        /// Attempts so far, this one included.
        public var attempt: Int
    }

    /// Claims up to `limit` due messages for `leaseSeconds` (pending ones whose time has come, and
    /// sending ones whose lease has run out because their dispatcher died), counting the attempt.
    public static func claimDue(limit: Int, leaseSeconds: Int, database: Database, logger: Logger) async throws -> [Pending] {
        let rows = try await database.query(
            """
            UPDATE notifications n SET status = 'sending', attempts = n.attempts + 1,
                   lease_until = now() + make_interval(secs => \(leaseSeconds))
            FROM (
                SELECT id FROM notifications
                WHERE status IN ('pending', 'sending') AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
                ORDER BY next_attempt_at, id LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            ) due
            WHERE n.id = due.id
            RETURNING n.id, n.idempotency_key, n.channel, n.recipient, n.template, n.language, n.payload::text, n.attempts
            """,
            logger: logger
        )
        var result: [Pending] = []
        for try await (id, key, channel, recipient, template, language, payload, attempts)
            in rows.decode((Int64, String, String, String, String, String, String, Int32).self)
        {
            let dict = (try? JSONDecoder().decode([String: String].self, from: Data(payload.utf8))) ?? [:]
            result.append(
                Pending(
                    id: id,
                    key: key,
                    channel: channel,
                    recipient: recipient,
                    template: template,
                    language: language,
                    payload: dict,
                    attempt: Int(attempts)
                )
            )
        }
        return result.sorted { $0.id < $1.id }
    }

    /// Delivered: its parameters (codes among them) are cleared.
    public static func markSent(_ id: Int64, providerID: String?, database: Database, logger: Logger) async throws {
        try await database.query(
            """
            UPDATE notifications SET status = 'sent', sent_at = now(), lease_until = NULL, payload = '{}'::jsonb,
                   provider_id = \(providerID), last_error = NULL
            WHERE id = \(id) AND status = 'sending'
            """,
            logger: logger
        )
    }

    /// Not delivered: tried again after `retryAfterSeconds`, or, when that is nil, a dead letter.
    public static func markFailed(_ id: Int64, error: String, retryAfterSeconds: Int?, database: Database, logger: Logger) async throws {
        if let retryAfterSeconds {
            try await database.query(
                """
                UPDATE notifications SET status = 'pending', lease_until = NULL, last_error = \(error),
                       next_attempt_at = now() + make_interval(secs => \(retryAfterSeconds))
                WHERE id = \(id) AND status = 'sending'
                """,
                logger: logger
            )
        } else {
            try await database.query(
                "UPDATE notifications SET status = 'dead', lease_until = NULL, last_error = \(error) WHERE id = \(id) AND status = 'sending'",
                logger: logger
            )
        }
    }

    /// A message as administrators see it: never its parameters.
    public struct Entry: Sendable {
        public var id: Int64
        public var channel: String
        public var recipient: String
        public var template: String
        public var status: String
        public var attempts: Int
        public var lastError: String?
        public var createdAt: Date
        public var nextAttemptAt: Date
    }

    /// Messages in `status`, newest first.
    public static func list(status: String, limit: Int, database: Database, logger: Logger) async throws -> [Entry] {
        let rows = try await database.query(
            """
            SELECT id, channel, recipient, template, status, attempts, last_error, created_at, next_attempt_at
            FROM notifications WHERE status = \(status) ORDER BY id DESC LIMIT \(limit)
            """,
            logger: logger
        )
        var result: [Entry] = []
        for try await (id, channel, recipient, template, status, attempts, error, created, next)
            in rows.decode((Int64, String, String, String, String, Int32, String?, Date, Date).self)
        {
            result.append(
                Entry(
                    id: id,
                    channel: channel,
                    recipient: recipient,
                    template: template,
                    status: status,
                    attempts: Int(attempts),
                    lastError: error,
                    createdAt: created,
                    nextAttemptAt: next
                )
            )
        }
        return result
    }

    /// How many messages are in each state.
    public static func counts(database: Database, logger: Logger) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for try await (status, n) in try await database.query(
            "SELECT status, count(*)::int FROM notifications GROUP BY status",
            logger: logger
        ).decode((String, Int).self) {
            counts[status] = n
        }
        return counts
    }

    /// A dead letter is queued again now (its attempts start over). False when `id` is not dead.
    public static func retry(_ id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
            WHERE id = \(id) AND status = 'dead' RETURNING id
            """,
            logger: logger
        )
        for try await _ in rows.decode(Int64.self) { return true }
        return false
    }

    /// Demo mode: the message as its recipient reads it, kept for `/demo/outbox`.
    public static func deliverToDemoMailbox(
        _ id: Int64,
        channel: String,
        recipient: String,
        kind: String,
        body: String,
        database: Database,
        logger: Logger
    ) async throws {
        try await database.query(
            """
            INSERT INTO demo_mailbox (notification_id, channel, recipient, kind, body)
            VALUES (\(id), \(channel), \(recipient), \(kind), \(body)) ON CONFLICT (notification_id) DO NOTHING
            """,
            logger: logger
        )
    }

    public struct MailboxMessage: Sendable {
        public var id: Int64
        public var channel: String
        public var recipient: String
        public var kind: String
        public var body: String
        public var deliveredAt: Date
    }

    /// The demo mailbox, newest first.
    public static func demoMailbox(limit: Int, database: Database, logger: Logger) async throws -> [MailboxMessage] {
        let rows = try await database.query(
            "SELECT id, channel, recipient, kind, body, delivered_at FROM demo_mailbox ORDER BY id DESC LIMIT \(limit)",
            logger: logger
        )
        var result: [MailboxMessage] = []
        for try await (id, channel, recipient, kind, body, at) in rows.decode((Int64, String, String, String, String, Date).self) {
            result.append(MailboxMessage(id: id, channel: channel, recipient: recipient, kind: kind, body: body, deliveredAt: at))
        }
        return result
    }
}
