import Logging
import RegistryStorage
import ServiceLifecycle

/// The one shutdown-aware loop of the background work: `tick` every `interval` until graceful
/// shutdown or cancellation (a failed tick is logged and tried again at the next one), then
/// `atStop` once. Each job below is safe with several nodes by its own means (an advisory lock, or
/// rows claimed with `FOR UPDATE SKIP LOCKED`), so every node runs all of them.
public struct PeriodicService: Service {
    public let name: String
    let interval: Duration
    let logger: Logger
    let tick: @Sendable () async throws -> Void
    let atStop: (@Sendable () async -> Void)?

    public init(
        _ name: String,
        every interval: Duration,
        logger: Logger,
        atStop: (@Sendable () async -> Void)? = nil,
        tick: @escaping @Sendable () async throws -> Void
    ) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.atStop = atStop
        self.tick = tick
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await tick()
            } catch {
                logger.warning("\(name) failed; will retry", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await gracefulShutdownSleep(interval)
        }
        await atStop?()
    }
}

/// Sleeps, returning early on graceful shutdown or cancellation.
func gracefulShutdownSleep(_ duration: Duration) async throws {
    try await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}

extension PeriodicService {
    /// Watches the database: a `SELECT 1` every second, given up after two (with several hosts,
    /// whether the host in use still accepts writes, and which does when not: `Database.ping`). While it fails,
    /// `Database` refuses new work at once (503 `database_unavailable`, `/health/ready` 503)
    /// instead of letting requests queue for connections that cannot be made; when it answers
    /// again, service resumes by itself.
    public static func databaseMonitor(
        _ database: Database,
        interval: Duration = .seconds(1),
        timeout: Duration = .seconds(2),
        logger: Logger
    )
        -> PeriodicService
    {
        PeriodicService("database monitor", every: interval, logger: logger) {
            let up = await database.ping(timeout: timeout, logger: logger)
            if database.setReachable(up) {
                if up {
                    logger.notice("database reachable again; serving")
                } else {
                    logger.error("database unreachable; answering 503 until it is back")
                }
            }
        }
    }

    /// Measures the read copy's lag every second (with `DATABASE_READ_URL`): reads that may be a
    /// little old go to it only while it is within the bound.
    public static func replicaMonitor(_ database: Database, interval: Duration = .seconds(1), logger: Logger) -> PeriodicService {
        PeriodicService("read copy monitor", every: interval, logger: logger) {
            await database.measureReplica(logger: logger)
        }
    }

    /// Links newly written audit rows into the hash chain. Writers never wait on the chain's head;
    /// this job (serialised across nodes by an advisory lock in `audit_integrate`) appends them in
    /// commit order shortly after, and once more at shutdown.
    public static func auditSequencer(_ database: Database, interval: Duration = .milliseconds(500), logger: Logger) -> PeriodicService {
        PeriodicService(
            "audit sequencing",
            every: interval,
            logger: logger,
            atStop: { try? await AuditStore.integrateAll(database: database, logger: logger) },
            tick: { try await AuditStore.integrateAll(database: database, logger: logger) }
        )
    }

    /// Delivers the notification outbox.
    public static func notifications(_ dispatcher: OutboxDispatcher, interval: Duration = .seconds(1), logger: Logger) -> PeriodicService {
        PeriodicService("notification delivery", every: interval, logger: logger) {
            while try await dispatcher.dispatchOnce(logger: logger) > 0 {}
        }
    }

    /// Drains the grade queue.
    public static func gradeQueue(_ grading: GradingService, interval: Duration = .seconds(1), logger: Logger) -> PeriodicService {
        PeriodicService("grading", every: interval, logger: logger) { while try await grading.drainQueue(logger: logger) > 0 {} }
    }
}
