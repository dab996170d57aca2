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
        /// Nil when retired: no host accepted writes at the last search.
        let client: PostgresClient?
        let runner: Task<Void, Never>?
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

    init(hosts: [DatabaseEndpoint], maxConnections: Int, probeTimeout: Duration = .seconds(5), logger: Logger) {
        self.hosts = hosts
        self.maxConnections = maxConnections
        self.probeTimeout = probeTimeout
        self.logger = logger
    }

    var current: Current? { state.withLock { $0 } }

    /// The label of the host in use, if any.
    var primaryLabel: String? { current.map { DatabaseEndpoint.label(hosts[$0.host].address) } }

    var isCluster: Bool { hosts.count > 1 }

    /// Waits until a primary newer than `generation` is in use, searching for one if no other
    /// caller is; false when none accepts writes within `within`.
    func relocate(after generation: Int, within: Duration) async -> Bool {
        await search.find(self, after: generation, within: within)
    }

    /// Asks the hosts, in order, until one accepts writes or `within` has passed; installs it.
    /// When every host answered, and none accepts writes (refused the connection, or is read-only),
    /// the pool in use is retired: what waits on it fails at once instead of waiting on a server
    /// that is gone (PostgresNIO's pool would hold it for up to a minute), and work is refused with
    /// 503 until a search finds a primary again. A host that does not answer in time may only be
    /// slow (a loaded machine), so silence alone never retires the pool.
    fileprivate func searchOnce(within: Duration) async -> Bool {
        let deadline = ContinuousClock.now + within
        while true {
            var allAnswered = true
            for index in hosts.indices {
                switch await Self.probe(hosts[index], timeout: probeTimeout, logger: logger) {
                case .writable:
                    install(host: index)
                    return true
                case .silent: allAnswered = false
                case .refused, .readOnly: break
                }
            }
            if allAnswered { retire() }
            if ContinuousClock.now + .milliseconds(250) >= deadline || Task.isCancelled { return false }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Shuts the pool in use down when no host accepts writes: work waiting on it is let go (it
    /// waits for this search like the rest), and new work is refused at once until a host is found.
    private func retire() {
        let gone = state.withLock { current -> Current? in
            guard let kept = current, kept.client != nil else { return nil }
            current = Current(host: kept.host, client: nil, runner: nil, generation: kept.generation)
            return kept
        }
        if let gone, let runner = gone.runner {
            logger.error(
                "no database host accepts writes; answering 503 until one does",
                metadata: ["last": "\(DatabaseEndpoint.label(hosts[gone.host].address))"]
            )
            runner.cancel()
        }
    }

    /// Uses `host` from now on. The same host keeps its pool (a dropped connection or two does not
    /// make it another server) unless it was retired; another host gets a new pool and the old one
    /// is shut down, which fails what still waits on it so that it tries again here.
    private func install(host: Int) {
        let endpoint = hosts[host]
        let old: Current? = state.withLock { current in
            let generation = (current?.generation ?? 0) + 1
            if let kept = current, kept.host == host, let client = kept.client {
                current = Current(host: host, client: client, runner: kept.runner, generation: generation)
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
        if let old, old.host == host {
            logger.notice("database accepts writes again", metadata: ["host": "\(DatabaseEndpoint.label(endpoint.address))"])
        } else if let old {
            old.runner?.cancel()
            logger.notice(
                "database primary moved",
                metadata: ["from": "\(DatabaseEndpoint.label(hosts[old.host].address))", "to": "\(DatabaseEndpoint.label(endpoint.address))"]
            )
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
        last?.runner?.cancel()
    }

    /// True on a server that takes writes: not a standby in recovery, and not read-only by setting.
    static let acceptsWritesQuery: PostgresQuery = "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'"

    /// What a host said when asked whether it accepts writes.
    enum Probe: Sendable, Equatable {
        case writable
        /// A standby in recovery, or read-only by setting.
        case readOnly
        /// The connection was refused or failed.
        case refused
        /// No answer within the timeout.
        case silent
    }

    /// Asks `endpoint`'s one host, on a direct connection, whether it accepts writes.
    static func probe(_ endpoint: DatabaseEndpoint, asOwner: Bool = false, timeout: Duration, logger: Logger) async -> Probe {
        let outcome = Mutex<Probe>(.silent)
        let finished = await Database.answer(within: timeout) {
            guard let configuration = try? endpoint.connectionConfiguration(asOwner: asOwner, connectTimeout: timeout),
                let connection = try? await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
            else {
                outcome.withLock { $0 = .refused }
                return true
            }
            var answer = Probe.refused
            if let rows = try? await connection.query(acceptsWritesQuery, logger: logger) {
                do {
                    for try await writable in rows.decode(Bool.self) { answer = writable ? .writable : .readOnly }
                } catch {
                    answer = .refused
                }
            }
            try? await connection.close()
            outcome.withLock { $0 = answer }
            return true
        }
        return finished ? outcome.withLock { $0 } : .silent
    }
}

/// One search at a time: callers that lose the primary together wait for the same search.
private actor PrimarySearch {
    private var running: Task<Bool, Never>?

    func find(_ tracker: PrimaryTracker, after generation: Int, within: Duration) async -> Bool {
        if let now = tracker.current?.generation, now > generation { return true }
        // Join the search under way, for no longer than this caller may wait.
        if let running { return await Database.answer(within: within) { await running.value } }
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
            for index in hosts.indices
            where await PrimaryTracker.probe(single(index), asOwner: true, timeout: .seconds(5), logger: logger) == .writable {
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
    readCopy: Database.ReadCopy? = nil,
    failoverWait: Duration = .seconds(15),
    logger: Logger,
    _ body: (Database) async throws -> Result
) async throws -> Result {
    guard endpoint.isCluster else {
        return try await withPostgresClient(endpoint.clientConfiguration(asOwner: false, maxConnections: maxConnections), logger: logger) {
            client in
            let database = Database(client: client, maxConnections: maxConnections, readCopy: readCopy, logger: logger)
            defer { database.shutdown() }
            return try await body(database)
        }
    }
    let database = try await Database.connect(
        endpoints: endpoint.hosts.indices.map(endpoint.single),
        maxConnections: maxConnections,
        failoverWait: failoverWait,
        readCopy: readCopy,
        logger: logger
    )
    defer { database.shutdown() }
    return try await body(database)
}
