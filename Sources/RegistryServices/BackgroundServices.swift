import Logging
import RegistryStorage
import ServiceLifecycle

/// Watches the database: a `SELECT 1` every `interval`, given up after `timeout`. While it fails,
/// `Database` refuses new work at once (503 `database_unavailable`, `/health/ready` 503) instead of
/// letting requests queue for connections that cannot be made; when it answers again, service
/// resumes by itself.
public struct DatabaseMonitor: Service {
    let database: Database
    let interval: Duration
    let timeout: Duration
    let logger: Logger

    public init(database: Database, interval: Duration = .seconds(1), timeout: Duration = .seconds(2), logger: Logger) {
        self.database = database
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let up = await database.ping(timeout: timeout, logger: logger)
            if database.setReachable(up) {
                if up {
                    logger.notice("database reachable again; serving")
                } else {
                    logger.error("database unreachable; answering 503 until it is back")
                }
            }
            try? await gracefulShutdownSleep(interval)
        }
    }
}

/// Completes transfers whose sealing deadline passed (several nodes may run it).
public struct TransferDeadlineService: Service {
    let transfers: TransferService
    let interval: Duration
    let logger: Logger

    public init(transfers: TransferService, interval: Duration = .seconds(60), logger: Logger) {
        self.transfers = transfers
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let n = try await transfers.completeOverdue(logger: logger)
                if n > 0 { logger.info("transfers completed by deadline", metadata: ["count": "\(n)"]) }
            } catch {
                logger.warning("deadline sweep failed; will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await gracefulShutdownSleep(interval)
        }
    }
}

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
public struct NotificationDispatcher: Service {
    let database: Database
    let notifier: any Notifier
    let interval: Duration
    let logger: Logger

    public init(database: Database, notifier: any Notifier = LogNotifier(), interval: Duration = .seconds(1), logger: Logger) {
        self.database = database
        self.notifier = notifier
        self.interval = interval
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

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await dispatchOnce() } catch {
                logger.warning("notification delivery failed; will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await gracefulShutdownSleep(interval)
        }
    }
}
