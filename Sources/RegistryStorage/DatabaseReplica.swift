import Logging
import Metrics
import PostgresNIO
import Synchronization

/// A read-only copy of the database (`DATABASE_READ_URL`: a streaming standby, or a pooler in
/// front of several) for the reads that may be a few seconds old: the public ban lookup and the
/// for-hire listing. It is used only while it is at most `maxLag` behind; past that, or when it
/// cannot be reached, those reads go to the primary.
///
/// The lag is measured the same way on any kind of copy: every node writes the time into the one
/// row of `replication_clock` on the primary every second, and reads it back from the copy; the
/// difference is how far behind the copy is (to within the second between beats).
final class ReadReplica: Sendable {
    let endpoint: DatabaseEndpoint
    let maxLag: Duration
    private let maxConnections: Int
    private let logger: Logger
    /// The copy's pool and the task running it; replaced when the copy is found unreachable, so
    /// that reads waiting for one of its connections fail at once and go to the primary.
    private let pool: Mutex<(client: PostgresClient, runner: Task<Void, Never>)>
    /// Milliseconds behind, as last measured; nil when the copy could not be read.
    private let lag = Mutex<Int?>(nil)
    private let fresh = Atomic<Bool>(false)
    private let lagGauge = Gauge(label: "registry_db_replica_lag_seconds")
    private let inUseGauge = Gauge(label: "registry_db_replica_in_use")

    init(_ copy: Database.ReadCopy, maxConnections: Int, logger: Logger) {
        self.endpoint = copy.endpoint
        self.maxLag = copy.maxLag
        self.maxConnections = maxConnections
        self.logger = logger
        pool = Mutex(Self.start(copy.endpoint, maxConnections: maxConnections, logger: logger))
    }

    private static func start(_ endpoint: DatabaseEndpoint, maxConnections: Int, logger: Logger) -> (PostgresClient, Task<Void, Never>) {
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(asOwner: false, maxConnections: maxConnections),
            backgroundLogger: logger
        )
        return (client, Task { await client.run() })
    }

    private var client: PostgresClient { pool.withLock { $0.client } }

    /// A new pool for the copy; the old one is shut down (what waits on it fails at once).
    private func renew() {
        let fresh = Self.start(endpoint, maxConnections: maxConnections, logger: logger)
        let old = pool.withLock { current in
            defer { current = fresh }
            return current
        }
        old.runner.cancel()
    }

    /// Whether reads go to the copy now.
    var isFresh: Bool { fresh.load(ordering: .relaxed) }

    /// Milliseconds behind at the last measure (nil: unreachable).
    var lastLagMilliseconds: Int? { lag.withLock { $0 } }

    /// Records a measure (nil: the copy did not answer); returns whether it is fresh now.
    @discardableResult
    func record(lagMilliseconds: Int?) -> Bool {
        lag.withLock { $0 = lagMilliseconds }
        let bound = Int(maxLag.components.seconds) * 1000 + Int(maxLag.components.attoseconds / 1_000_000_000_000_000)
        let isFresh = lagMilliseconds.map { $0 <= bound } ?? false
        let was = fresh.exchange(isFresh, ordering: .relaxed)
        if lagMilliseconds == nil && was { renew() }
        lagGauge.record(Double(lagMilliseconds ?? -1000) / 1000)
        inUseGauge.record(isFresh ? 1 : 0)
        return isFresh
    }

    /// How far behind the copy is, in milliseconds; nil when it does not answer within `timeout`.
    func measure(timeout: Duration, logger: Logger) async -> Int? {
        let client = self.client
        let answer = Mutex<Int?>(nil)
        let answered = await Database.answer(within: timeout) {
            guard
                let rows = try? await client.withConnection({
                    try await $0.query(
                        "SELECT (extract(epoch FROM clock_timestamp() - beat_at) * 1000)::int8 FROM replication_clock WHERE id = 1",
                        logger: logger
                    ).collect()
                })
            else { return false }
            do {
                for row in rows {
                    let milliseconds = try row.decode(Int64.self)
                    answer.withLock { $0 = Int(clamping: max(0, milliseconds)) }
                }
            } catch {
                return false
            }
            return true
        }
        return answered ? answer.withLock { $0 } : nil
    }

    func withConnection<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await client.withConnection(isolation: isolation, body)
    }

    func shutdown() {
        pool.withLock { $0.runner }.cancel()
    }
}

extension Database {
    /// Runs `body`, a read that may be up to `DATABASE_READ_URL`'s lag bound old, on the read
    /// copy when it is fresh, else on the primary. A copy that fails is left for the primary at
    /// once (the read runs again there) until the next measure finds it fresh.
    public func withReadConnection<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        if let replica, replica.isFresh {
            do {
                return try await replica.withConnection(isolation: isolation, body)
            } catch  where DatabaseFailure.classify(error)?.isUnreachable == true || Self.lostPrimary(error) {
                replica.record(lagMilliseconds: nil)
            }
        }
        return try await withConnection(isolation: isolation, body)
    }

    /// True when reads that may be a little old go to the read copy now.
    public var readsFromReplica: Bool { replica?.isFresh ?? false }

    /// The read copy's lag at the last measure, in milliseconds (nil: none configured, or unreachable).
    public var replicaLagMilliseconds: Int? { replica?.lastLagMilliseconds }

    /// One beat and one measure: the time written on the primary, then read back from the copy.
    /// Run every second by each node (`PeriodicService.replicaMonitor`).
    public func measureReplica(timeout: Duration = .seconds(1), logger: Logger) async {
        guard let replica else { return }
        _ = try? await query("UPDATE replication_clock SET beat_at = clock_timestamp() WHERE id = 1", logger: logger)
        let was = replica.isFresh
        let now = replica.record(lagMilliseconds: await replica.measure(timeout: timeout, logger: logger))
        if was != now {
            let lag = replica.lastLagMilliseconds.map { "\($0) ms" } ?? "unreachable"
            if now {
                logger.notice("read copy in use", metadata: ["lag": "\(lag)"])
            } else {
                logger.warning("read copy behind or unreachable; its reads go to the primary", metadata: ["lag": "\(lag)"])
            }
        }
    }
}
