import Logging
import RegistryStorage
import ServiceLifecycle

/// Something that delivers messages to people. The registry ships a log implementation; an
/// SMS gateway would implement the same protocol.
public protocol Notifier: Sendable {
    func deliver(channel: String, recipient: String, template: String, payload: [String: String], logger: Logger) async throws
}

/// Writes each message to the log with the recipient masked (codes are shown: this is the
/// development gateway).
public struct LogNotifier: Notifier {
    public init() {}

    public func deliver(channel: String, recipient: String, template: String, payload: [String: String], logger: Logger) async throws {
        let masked = String(recipient.prefix(3)) + "****" + String(recipient.suffix(4))
        logger.notice(
            "notification",
            metadata: [
                "channel": "\(channel)", "to": "\(masked)", "template": "\(template)",
                "payload": "\(payload.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))",
            ]
        )
    }
}

/// Delivers the notification outbox; a delivered message's payload is cleared.
public struct NotificationDispatcher: Sendable {
    let database: Database
    let notifier: any Notifier
    let logger: Logger

    public init(database: Database, notifier: any Notifier = LogNotifier(), logger: Logger) {
        self.database = database
        self.notifier = notifier
        self.logger = logger
    }

    @discardableResult
    public func dispatchOnce() async throws -> Int {
        try await database.transaction(logger: logger) { connection in
            let pending = try await NotificationStore.claim(limit: 50, on: connection, logger: logger)
            for message in pending {
                try await notifier.deliver(
                    channel: message.channel,
                    recipient: message.recipient,
                    template: message.template,
                    payload: message.payload,
                    logger: logger
                )
                try await NotificationStore.markSent(message.id, on: connection, logger: logger)
            }
            return pending.count
        }
    }
}
