import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// The outbox as administrators see it: counts by state, the dead letters (never a message's
/// parameters) and sending one again; in demo mode, the demo mailbox.
public struct MessageService: Sendable {
    let database: Database
    let demoMode: Bool

    public init(database: Database, demoMode: Bool) {
        self.database = database
        self.demoMode = demoMode
    }

    public struct Entry: Sendable, Encodable {
        public var id: Int64
        public var channel: String
        public var recipient: String
        public var kind: String
        public var status: String
        public var attempts: Int
        public var lastError: String?
        public var createdAt: Date
        public var nextAttemptAt: Date

        init(_ row: NotificationStore.Entry) {
            self.id = row.id
            self.channel = row.channel
            self.recipient = OutboxDispatcher.mask(row.recipient)
            self.kind = row.template
            self.status = row.status
            self.attempts = row.attempts
            self.lastError = row.lastError
            self.createdAt = row.createdAt
            self.nextAttemptAt = row.nextAttemptAt
        }

        enum CodingKeys: String, CodingKey {
            case id, channel, recipient, kind, status, attempts
            case lastError = "last_error"
            case createdAt = "created_at"
            case nextAttemptAt = "next_attempt_at"
        }
    }

    public struct Overview: Sendable, Encodable {
        public var counts: [String: Int]
        public var dead: [Entry]
    }

    /// Counts by state and the newest dead letters.
    public func overview(logger: Logger) async throws -> Overview {
        Overview(
            counts: try await NotificationStore.counts(database: database, logger: logger),
            dead: try await NotificationStore.list(status: "dead", limit: 100, database: database, logger: logger).map(Entry.init)
        )
    }

    /// Sends a dead letter again (its attempts start over); audited.
    public func retry(_ id: Int64, caller: Caller, logger: Logger) async throws {
        try await database.transaction(logger: logger) { connection in
            guard try await NotificationStore.retry(id, on: connection, logger: logger) else {
                throw RegistryError(.notFound, code: "not_found", message: "No dead letter with this id.")
            }
            try await AuditStore.append(
                caller.event("message.retried", "message", nil, ["message": .int(Int(id))]),
                on: connection,
                logger: logger
            )
        }
    }

    public struct MailboxMessage: Sendable, Encodable {
        public var id: Int64
        public var channel: String
        public var recipient: String
        public var kind: String
        public var body: String
        public var deliveredAt: Date

        enum CodingKeys: String, CodingKey {
            case id, channel, recipient, kind, body
            case deliveredAt = "delivered_at"
        }
    }

    /// Demo mode only: the messages the demo sent, newest first. Outside demo mode there is no mailbox.
    public func demoMailbox(logger: Logger) async throws -> [MailboxMessage] {
        guard demoMode else { throw RegistryError.notFound("Page") }
        return try await NotificationStore.demoMailbox(limit: 200, database: database, logger: logger).map {
            MailboxMessage(id: $0.id, channel: $0.channel, recipient: $0.recipient, kind: $0.kind, body: $0.body, deliveredAt: $0.deliveredAt)
        }
    }
}
