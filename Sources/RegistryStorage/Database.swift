import Logging
import Metrics
import PostgresNIO
import RegistryDomain
import Synchronization
import _ConnectionPoolModule

/// The service's connection pool, with the pool usage it reports to `/metrics`.
/// Every query of the running service goes through here.
///
/// With one host (`init(client:)`) it is that host's pool. With several (`connect(endpoint:)`),
/// it is the pool of the host that accepts writes, and it moves when that host stops doing so:
/// work that fails because the primary went away (a lost connection, a read-only standby, a
/// server shutting down) waits up to `failoverWait` for the new primary and runs again there —
/// a transaction only if its COMMIT was not sent, a single statement only if it never reached
/// the server. A COMMIT cut off on its way fails with `commit_outcome_unknown` (503): it may or
/// may not have happened, and only the client can tell by looking.
public final class Database: Sendable {
    private let fixed: PostgresClient?
    private let tracker: PrimaryTracker?
    /// The read copy (`DATABASE_READ_URL`), if any.
    let replica: ReadReplica?
    public let maxConnections: Int
    /// How long work that lost the primary waits for a new one before answering 503.
    public let failoverWait: Duration
    private let leased = Mutex(0)
    private let inUse = Gauge(label: "registry_db_connections_in_use")
    private let capacity = Gauge(label: "registry_db_connections_max")
    private let waits = Metrics.Timer(label: "registry_db_lease_wait_seconds", preferredDisplayUnit: .seconds)
    /// False while the database monitor (`PeriodicService.databaseMonitor`) finds the server unreachable: requests then fail at once
    /// with 503 instead of waiting for a connection that cannot come.
    private let reachable = Atomic<Bool>(true)
    private let reachableGauge = Gauge(label: "registry_db_reachable")

    public init(client: PostgresClient, maxConnections: Int, readCopy: ReadCopy? = nil, logger: Logger? = nil) {
        self.fixed = client
        self.tracker = nil
        self.replica = readCopy.map { ReadReplica($0, maxConnections: maxConnections, logger: logger ?? Logger(label: "registry")) }
        self.maxConnections = maxConnections
        self.failoverWait = .zero
        capacity.record(maxConnections)
    }

    private init(tracker: PrimaryTracker, maxConnections: Int, failoverWait: Duration, replica: ReadReplica?) {
        self.fixed = nil
        self.tracker = tracker
        self.replica = replica
        self.maxConnections = maxConnections
        self.failoverWait = failoverWait
        capacity.record(maxConnections)
    }

    /// A database over the hosts of `endpoint`, on the one that accepts writes; waits up to
    /// `failoverWait`, and at least 30 s, for one at start. Call `shutdown()` when done.
    public static func connect(
        endpoints: [DatabaseEndpoint],
        maxConnections: Int,
        failoverWait: Duration = .seconds(15),
        readCopy: ReadCopy? = nil,
        logger: Logger
    ) async throws -> Database {
        let tracker = PrimaryTracker(hosts: endpoints, maxConnections: maxConnections, logger: logger)
        // At start, give the hosts longer than a failover: a machine still starting may be slow.
        guard await tracker.relocate(after: 0, within: max(failoverWait, .seconds(30))) else {
            throw EndpointError(
                "none of the database hosts accepts writes: " + endpoints.map { DatabaseEndpoint.label($0.address) }.joined(separator: ", ")
            )
        }
        let replica = readCopy.map { ReadReplica($0, maxConnections: maxConnections, logger: logger) }
        return Database(tracker: tracker, maxConnections: maxConnections, failoverWait: failoverWait, replica: replica)
    }

    /// Where reads that may be a little old can go, and how old they may be.
    public struct ReadCopy: Sendable {
        public var endpoint: DatabaseEndpoint
        public var maxLag: Duration

        public init(endpoint: DatabaseEndpoint, maxLag: Duration) {
            self.endpoint = endpoint
            self.maxLag = maxLag
        }
    }

    /// Stops the pools this database started (the primary's with several hosts, the read copy's);
    /// a single client given to `init(client:)` is its owner's.
    public func shutdown() {
        tracker?.shutdown()
        replica?.shutdown()
    }

    /// True when this database follows the primary among several hosts.
    public var isCluster: Bool { tracker?.isCluster ?? false }

    /// The host in use (`host:port`), when there are several.
    public var primaryLabel: String? { isCluster ? tracker?.primaryLabel : nil }

    private func current() throws -> (client: PostgresClient, generation: Int) {
        if let fixed { return (fixed, 0) }
        guard let current = tracker?.current, let client = current.client else { throw RegistryError.databaseUnavailable }
        return (client, current.generation)
    }

    /// After `error` on the pool of `generation`: when it means the primary is gone, waits for the
    /// new one (until `deadline`, set on the first wait of this piece of work) and returns true,
    /// so the caller runs again; throws `databaseUnavailable` when none comes; false for any
    /// other error, or with a single host.
    private func relocated(after error: any Error, generation: Int, deadline: inout ContinuousClock.Instant?) async throws -> Bool {
        guard let tracker, Self.lostPrimary(error) else { return false }
        let until = deadline ?? ContinuousClock.now + failoverWait
        deadline = until
        let left = until - ContinuousClock.now
        guard left > .zero, await tracker.relocate(after: generation, within: left) else {
            throw RegistryError.databaseUnavailable
        }
        return true
    }

    /// Starts looking for the new primary without waiting for it (work that cannot be run again).
    private func relocateSoon(after error: any Error, generation: Int) {
        guard let tracker, Self.lostPrimary(error) else { return }
        let wait = failoverWait
        Task { _ = await tracker.relocate(after: generation, within: wait) }
    }

    /// The pool refused a lease: it was shut down (the primary moved while this waited), or it
    /// could not connect for a long while; or the connection it handed out was already closed.
    /// No statement was sent, so nothing ran.
    static func poolGaveUp(_ error: any Error) -> Bool {
        // A connection found closed before a statement was sent on it (see `ConnectionClosed`).
        if error is ConnectionClosed { return true }
        guard let error = error as? ConnectionPoolError else { return false }
        return error == .poolShutdown || error == .connectionCreationCircuitBreakerTripped
    }

    /// Whether `error` says the server is gone or cannot take writes: a lost or refused connection,
    /// a closed pool, a read-only transaction (a standby), or a server shutting down or starting.
    static func lostPrimary(_ error: any Error) -> Bool {
        if poolGaveUp(error) { return true }
        guard let error = error as? PSQLError else { return false }
        if [.connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed].contains(error.code) { return true }
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "25006" || state.hasPrefix("57P") || state.hasPrefix("08")
    }

    /// Whether `error` proves that the statement never ran: the connection was never made (or the
    /// pool was closed before it was leased), or the server refused to write.
    static func neverRan(_ error: any Error) -> Bool {
        if poolGaveUp(error) { return true }
        guard let error = error as? PSQLError else { return false }
        if [.connectionError, .poolClosed].contains(error.code) { return true }
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "25006" || state == "57P03" || state.hasPrefix("08")
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
    /// With several hosts the answer is also whether the host still accepts writes; when it
    /// does not, the new primary is looked for (up to `timeout`).
    public func ping(timeout: Duration, logger: Logger) async -> Bool {
        guard let (client, generation) = try? current() else {
            return await tracker?.relocate(after: tracker?.current?.generation ?? 0, within: timeout) ?? false
        }
        guard let tracker else {
            return await Self.answer(within: timeout) {
                (try? await client.withConnection { try await $0.query("SELECT 1", logger: logger).collect() }) != nil
            }
        }
        let primary = await Self.answer(within: timeout) {
            guard let rows = try? await client.withConnection({ try await $0.query(PrimaryTracker.acceptsWritesQuery, logger: logger).collect() })
            else { return false }
            var writable = false
            do {
                for row in rows { writable = try row.decode(Bool.self) }
            } catch {
                return false
            }
            return writable
        }
        return primary ? true : await tracker.relocate(after: generation, within: timeout)
    }

    /// `check`'s answer, or false when it has none within `timeout`. A check that is still
    /// running then is cancelled and left behind, never waited for: a connection attempt to a
    /// server that is gone may take longer than its cancellation.
    public static func answer(within timeout: Duration, _ check: @escaping @Sendable () async -> Bool) async -> Bool {
        let once = OnceAnswer()
        return await withCheckedContinuation { continuation in
            once.set(continuation)
            let work = Task { once.resume(await check()) }
            Task {
                try? await Task.sleep(for: timeout)
                work.cancel()
                once.resume(false)
            }
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
        try await withLease(isolation: isolation, rerunIfUnsent: false, body)
    }

    /// Leases a connection and runs `body` on it. Work that cannot have written runs again: when
    /// no connection was handed out, or one already closed was (the pool had not heard of its
    /// close yet: tried again at once, on another), or, with `rerunIfUnsent` (one statement),
    /// when the server refused it or it was never sent. With several hosts, a lost primary is
    /// looked for first.
    private func withLease<Result>(
        isolation: isolated (any Actor)? = #isolation,
        rerunIfUnsent: Bool,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try requireReachable()
        var deadline: ContinuousClock.Instant?
        // Each closed connection handed out is one the pool drops; it has at most this many.
        var closedLeases = 0
        while true {
            let (client, generation) = try current()
            let asked = ContinuousClock.now
            var started = false
            do {
                return try await client.withConnection(isolation: isolation) { connection in
                    guard !connection.isClosed else { throw ConnectionClosed() }
                    waits.recordInterval(ContinuousClock.now - asked)
                    started = true
                    lease()
                    defer { release() }
                    return try await body(connection)
                }
            } catch {
                if !started, error is ConnectionClosed, closedLeases <= maxConnections {
                    closedLeases += 1
                    try await Task.sleep(for: .milliseconds(5))
                    continue
                }
                if !started || (rerunIfUnsent && Self.neverRan(error)) {
                    if try await relocated(after: error, generation: generation, deadline: &deadline) { continue }
                } else {
                    relocateSoon(after: error, generation: generation)
                }
                throw error
            }
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
        var deadline: ContinuousClock.Instant?
        while true {
            let generation = (try? current().generation) ?? 0
            do {
                return try await transactionOnce(logger: logger, isolation: isolation, body)
            } catch let error as PSQLError where attempt < 3 && Self.isRetryable(error) {
                logger.notice("transaction retried", metadata: ["sqlstate": "\(error.serverInfo?[.sqlState] ?? "")", "attempt": "\(attempt)"])
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...50)))
            } catch {
                // The COMMIT was not sent (that case throws commitOutcomeUnknown): all was rolled back.
                guard try await relocated(after: error, generation: generation, deadline: &deadline) else { throw error }
                logger.notice("transaction runs again on the new primary", metadata: ["primary": "\(primaryLabel ?? "")"])
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
            do {
                try await connection.query("COMMIT", logger: logger)
            } catch  where Self.lostPrimary(error) && !Self.neverRan(error) {
                // Sent, and no answer: it may have committed. Never run again unseen.
                logger.error("commit outcome unknown", metadata: ["error": "\(DatabaseFailure.summary(error) ?? "")"])
                throw RegistryError.commitOutcomeUnknown
            }
            return value
        }
    }

    /// One statement outside a transaction (reads). Its rows are read whole before the connection
    /// goes back to the pool; stream a long result inside `withConnection` instead.
    public func query(_ query: PostgresQuery, logger: Logger) async throws -> QueryRows {
        try await withLease(rerunIfUnsent: true) { connection in
            QueryRows(rows: try await connection.query(query, logger: logger).collect())
        }
    }
}

/// The rows of one statement run by `Database.query`, decoded like PostgresNIO's row sequence
/// (`for try await (a, b) in rows.decode((A, B).self)`).
public struct QueryRows: AsyncSequence, Sendable {
    public typealias Element = PostgresRow
    public let rows: [PostgresRow]

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[PostgresRow]>
        public mutating func next() async throws -> PostgresRow? { base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: rows.makeIterator()) }

    /// Every row (already read).
    public func collect() async throws -> [PostgresRow] { rows }
}

/// The one answer of `Database.answer(within:)`: whichever of the check and the timer comes first.
private final class OnceAnswer: Sendable {
    private let continuation = Mutex<CheckedContinuation<Bool, Never>?>(nil)

    func set(_ value: CheckedContinuation<Bool, Never>) {
        continuation.withLock { $0 = value }
    }

    func resume(_ answer: Bool) {
        continuation.withLock { $0.take() }?.resume(returning: answer)
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
