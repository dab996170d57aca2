import Logging
import PostgresNIO
import Synchronization

/// The pool of the host that accepts writes, when `DATABASE_URL` names several hosts of one
/// cluster (libpq's `target_session_attrs=read-write`). At start and whenever the service loses
/// its primary, each host is asked in order, on a direct connection given up after a short
/// timeout, whether it accepts writes; the first that does gets a new pool, and the old pool is
/// shut down so that nothing waits on a server that is gone.
///
/// `generation` grows with every move, so that a request that failed on the old primary knows
/// whether another has already found the new one.
final class PrimaryTracker: Sendable {
    struct Current: Sendable {
        let host: Int
        let client: PostgresClient
        let runner: Task<Void, Never>
        let generation: Int
    }

    /// One endpoint per host, in the order of the URL.
    let hosts: [DatabaseEndpoint]
    let maxConnections: Int
    /// How long one host may take to say whether it accepts writes.
    let probeTimeout: Duration
    private let logger: Logger
    private let state = Mutex<Current?>(nil)
    private let search = PrimarySearch()

    init(hosts: [DatabaseEndpoint], maxConnections: Int, probeTimeout: Duration = .seconds(2), logger: Logger) {
        self.hosts = hosts
        self.maxConnections = maxConnections
        self.probeTimeout = probeTimeout
        self.logger = logger
    }

    var current: Current? { state.withLock { $0 } }

    /// The label of the host in use, if any.
    var primaryLabel: String? { current.map { DatabaseEndpoint.label(hosts[$0.host].address) } }

    /// Waits until a primary newer than `generation` is in use, searching for one if no other
    /// caller is; false when none accepts writes within `within`.
    func relocate(after generation: Int, within: Duration) async -> Bool {
        await search.find(self, after: generation, within: within)
    }

    /// Asks the hosts, in order, until one accepts writes or `within` has passed; installs it.
    fileprivate func searchOnce(within: Duration) async -> Bool {
        let deadline = ContinuousClock.now + within
        while true {
            for index in hosts.indices where await Self.acceptsWrites(hosts[index], timeout: probeTimeout, logger: logger) {
                install(host: index)
                return true
            }
            if ContinuousClock.now + .milliseconds(250) >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(250))
            if Task.isCancelled { return false }
        }
    }

    /// Uses `host` from now on. The same host keeps its pool (a dropped connection or two does not
    /// make it another server); another host gets a new pool and the old one is shut down, which
    /// fails what still waits on it so that it tries again here.
    private func install(host: Int) {
        let endpoint = hosts[host]
        let old: Current? = state.withLock { current in
            let generation = (current?.generation ?? 0) + 1
            if let kept = current, kept.host == host {
                current = Current(host: host, client: kept.client, runner: kept.runner, generation: generation)
                return nil
            }
            let client = PostgresClient(
                configuration: endpoint.clientConfiguration(asOwner: false, maxConnections: maxConnections),
                backgroundLogger: logger
            )
            let runner = Task { await client.run() }
            let previous = current
            current = Current(host: host, client: client, runner: runner, generation: generation)
            return previous
        }
        if let old {
            logger.notice(
                "database primary moved",
                metadata: ["from": "\(DatabaseEndpoint.label(hosts[old.host].address))", "to": "\(DatabaseEndpoint.label(endpoint.address))"]
            )
            old.runner.cancel()
        } else {
            logger.info("database primary found", metadata: ["host": "\(DatabaseEndpoint.label(endpoint.address))"])
        }
    }

    /// Stops the pool in use (at shutdown).
    func shutdown() {
        let last = state.withLock { current in
            defer { current = nil }
            return current
        }
        last?.runner.cancel()
    }

    /// True on a server that takes writes: not a standby in recovery, and not read-only by setting.
    static let acceptsWritesQuery: PostgresQuery = "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'"

    /// Whether `endpoint`'s one host answers within `timeout` and accepts writes: not a standby
    /// in recovery, and not read-only by setting.
    static func acceptsWrites(_ endpoint: DatabaseEndpoint, asOwner: Bool = false, timeout: Duration, logger: Logger) async -> Bool {
        await Database.answer(within: timeout) {
            guard let configuration = try? endpoint.connectionConfiguration(asOwner: asOwner, connectTimeout: timeout),
                let connection = try? await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            else { return false }
            var writable = false
            if let rows = try? await connection.query(acceptsWritesQuery, logger: logger) {
                do {
                    for try await value in rows.decode(Bool.self) { writable = value }
                } catch {
                    writable = false
                }
            }
            try? await connection.close()
            return writable
        }
    }
}

/// One search at a time: callers that lose the primary together wait for the same search.
private actor PrimarySearch {
    private var running: Task<Bool, Never>?

    func find(_ tracker: PrimaryTracker, after generation: Int, within: Duration) async -> Bool {
        if let now = tracker.current?.generation, now > generation { return true }
        if let running { return await running.value }
        let task = Task { await tracker.searchOnce(within: within) }
        running = task
        let found = await task.value
        running = nil
        return found
    }
}

extension DatabaseEndpoint {
    /// The endpoint of the one host that accepts writes (the owner asks, so this works before the
    /// service role exists), waiting up to `within` for one; itself when it names one host.
    public func writable(within: Duration, logger: Logger) async throws -> DatabaseEndpoint {
        guard isCluster else { return self }
        let deadline = ContinuousClock.now + within
        repeat {
            for index in hosts.indices where await PrimaryTracker.acceptsWrites(single(index), asOwner: true, timeout: .seconds(2), logger: logger) {
                return single(index)
            }
            try await Task.sleep(for: .milliseconds(250))
        } while ContinuousClock.now < deadline
        throw EndpointError("none of the database hosts accepts writes: " + hosts.map(Self.label).joined(separator: ", "))
    }
}

/// Runs `body` with the service's database: one host's pool, or, when `endpoint` names several,
/// the pool of the one that accepts writes, following it when it moves.
public func withDatabase<Result: Sendable>(
    _ endpoint: DatabaseEndpoint,
    maxConnections: Int,
    logger: Logger,
    _ body: (Database) async throws -> Result
) async throws -> Result {
    guard endpoint.isCluster else {
        return try await withPostgresClient(endpoint.clientConfiguration(asOwner: false, maxConnections: maxConnections), logger: logger) {
            client in
            try await body(Database(client: client, maxConnections: maxConnections))
        }
    }
    let database = try await Database.connect(
        endpoints: endpoint.hosts.indices.map(endpoint.single),
        maxConnections: maxConnections,
        logger: logger
    )
    defer { database.shutdown() }
    return try await body(database)
}
