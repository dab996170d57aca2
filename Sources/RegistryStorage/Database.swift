import Logging
import Metrics
import PostgresNIO
import RegistryDomain
import Synchronization

/// The service's connection pool, with the pool usage it reports to `/metrics`.
/// Every query of the running service goes through here.
public final class Database: Sendable {
    public let client: PostgresClient
    public let maxConnections: Int
    private let leased = Mutex(0)
    private let inUse = Gauge(label: "registry_db_connections_in_use")
    private let capacity = Gauge(label: "registry_db_connections_max")
    private let waits = Metrics.Timer(label: "registry_db_lease_wait_seconds", preferredDisplayUnit: .seconds)
    /// False while the database monitor (`PeriodicService.databaseMonitor`) finds the server unreachable: requests then fail at once
    /// with 503 instead of waiting for a connection that cannot come.
    private let reachable = Atomic<Bool>(true)
    private let reachableGauge = Gauge(label: "registry_db_reachable")

    public init(client: PostgresClient, maxConnections: Int) {
        self.client = client
        self.maxConnections = maxConnections
        capacity.record(maxConnections)
    }

    private func lease() {
        let n = leased.withLock { value in
            value += 1
            return value
        }
        inUse.record(n)
    }

    private func release() {
        let n = leased.withLock { value in
            value -= 1
            return value
        }
        inUse.record(n)
    }

    public var isReachable: Bool { reachable.load(ordering: .relaxed) }

    /// Records what the monitor found; returns whether it changed.
    @discardableResult
    public func setReachable(_ value: Bool) -> Bool {
        reachableGauge.record(value ? 1 : 0)
        return reachable.exchange(value, ordering: .relaxed) != value
    }

    /// One `SELECT 1` through the pool, given up after `timeout` (a lease that cannot be served
    /// while the server is down would otherwise wait for the pool's own circuit breaker).
    public func ping(timeout: Duration, logger: Logger) async -> Bool {
        let client = self.client
        return await Self.answer(within: timeout) {
            (try? await client.query("SELECT 1", logger: logger).collect()) != nil
        }
    }

    /// `check`'s answer, or false when it has none within `timeout` (the check is cancelled).
    public static func answer(within timeout: Duration, _ check: @escaping @Sendable () async -> Bool) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await check() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func requireReachable() throws {
        guard isReachable else {
            throw RegistryError.databaseUnavailable
        }
    }

    /// Runs `body` on one pooled connection.
    public func withConnection<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try requireReachable()
        let asked = ContinuousClock.now
        return try await client.withConnection(isolation: isolation) { connection in
            waits.recordInterval(ContinuousClock.now - asked)
            lease()
            defer { release() }
            return try await body(connection)
        }
    }

    /// Runs `body` in one transaction. Errors thrown by `body` roll back and propagate unchanged,
    /// except a deadlock or serialization failure between concurrent writers (SQLSTATE 40P01,
    /// 40001): PostgreSQL rolled the transaction back as a whole, so it is run again, up to
    /// three times in all, after a short random pause.
    public func transaction<Result>(
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        var attempt = 1
        while true {
            do {
                return try await transactionOnce(logger: logger, isolation: isolation, body)
            } catch let error as PSQLError where attempt < 3 && Self.isRetryable(error) {
                logger.notice("transaction retried", metadata: ["sqlstate": "\(error.serverInfo?[.sqlState] ?? "")", "attempt": "\(attempt)"])
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...50)))
            }
        }
    }

    static func isRetryable(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    private func transactionOnce<Result>(
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await withConnection(isolation: isolation) { connection in
            try await connection.query("BEGIN", logger: logger)
            let value: Result
            do {
                value = try await body(connection)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            try await connection.query("COMMIT", logger: logger)
            return value
        }
    }

    /// One statement outside a transaction (reads).
    public func query(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        try requireReachable()
        lease()
        defer { release() }
        return try await client.query(query, logger: logger)
    }
}

extension Metrics.Timer {
    func recordInterval(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// The connection a transaction runs on, as the services name it: they hand it to the stores and
/// never call it themselves, so they need not import PostgresNIO.
public typealias DatabaseConnection = PostgresConnection
