import Logging
import RegistryStorage
import ServiceLifecycle

/// Links newly written audit rows into the hash chain, continuously. Writers never wait on
/// the chain's head; this service (one or many nodes, serialised by an advisory lock in
/// `audit_integrate`) appends them in commit order shortly after.
public struct AuditSequencer: Service {
    let database: Database
    let interval: Duration
    let logger: Logger

    public init(database: Database, interval: Duration = .milliseconds(500), logger: Logger) {
        self.database = database
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await AuditStore.integrateAll(database: database, logger: logger)
            } catch {
                logger.warning("audit sequencing failed; will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await gracefulShutdownSleep(interval)
        }
        // Chain what the last requests wrote before stopping.
        try? await AuditStore.integrateAll(database: database, logger: logger)
    }
}

/// Sleeps, returning early on graceful shutdown or cancellation.
func gracefulShutdownSleep(_ duration: Duration) async throws {
    try await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}
