import Logging
import Metrics
import PostgresNIO
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

    /// Runs `body` on one pooled connection.
    public func withConnection<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let asked = ContinuousClock.now
        return try await client.withConnection(isolation: isolation) { connection in
            waits.recordInterval(ContinuousClock.now - asked)
            lease()
            defer { release() }
            return try await body(connection)
        }
    }

    /// Runs `body` in one transaction. Errors thrown by `body` roll back and propagate unchanged.
    public func transaction<Result>(
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
