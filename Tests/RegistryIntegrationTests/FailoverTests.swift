import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Synchronization
import Testing

/// `DATABASE_URL` with several hosts, and the service following the primary among them.
///
/// The hosts here are two databases of the test cluster standing for two servers: a "standby"
/// is a database whose new sessions are read-only (`default_transaction_read_only`), and losing
/// the primary is making it read-only and cutting its sessions, which is what the service sees of
/// a demoted primary. (The drill of `make test`, `scripts/cluster-drill.sh`, does it with real
/// servers under pg_auto_failover.)
@Suite("Several database hosts: the service follows the primary")
struct FailoverTests {
    @Test("a multi-host URL is parsed as libpq reads it, and bad ones are refused with the reason")
    func parsing() throws {
        let endpoint = try DatabaseEndpoint(url: "postgres://owner:s%40cret@db1:6001,db2,10.0.0.3:6003/registry?target_session_attrs=read-write")
        #expect(endpoint.hosts.map(DatabaseEndpoint.label) == ["db1:6001", "db2:5432", "10.0.0.3:6003"])
        #expect(endpoint.isCluster)
        #expect(endpoint.password == "s@cret")
        #expect(endpoint.database == "registry")
        #expect(endpoint.ownerUser == "owner")
        #expect(endpoint.single(1).hosts.map(DatabaseEndpoint.label) == ["db2:5432"])
        #expect(!endpoint.single(1).isCluster)
        #expect(endpoint.displayURL == "postgresql://owner@db1:6001,db2:5432,10.0.0.3:6003/registry?target_session_attrs=read-write")
        #expect(try DatabaseEndpoint(url: "postgres://u@a:1,b:2/d?target_session_attrs=primary").hosts.count == 2)
        let tls = try DatabaseEndpoint(url: "postgresql://u@a:1,b:2/d?sslmode=require&target_session_attrs=read-write")
        #expect(tls.hosts == [.tcp(host: "a", port: 1, requireTLS: true), .tcp(host: "b", port: 2, requireTLS: true)])

        let single = try DatabaseEndpoint(url: "postgres://u:p@db:5433/registry")
        #expect(!single.isCluster && single.hosts == [.tcp(host: "db", port: 5433, requireTLS: false)])

        let refused: [(String, String)] = [
            ("postgres://u@a:1,b:2/d", "target_session_attrs=read-write"),
            ("postgres://u@a:1,b:2/d?target_session_attrs=any", "target_session_attrs=read-write"),
            ("postgres://u@a:1,:2/d?target_session_attrs=read-write", "host:port"),
            ("postgres://u@a:1,b:99999/d?target_session_attrs=read-write", "1 to 65535"),
            ("postgres://u@a:1,b:x/d?target_session_attrs=read-write", "1 to 65535"),
            ("postgres://u@a:1,b:2:3/d?target_session_attrs=read-write", "host:port"),
            ("postgres://u@a,b/d?host=/run/postgresql&target_session_attrs=read-write", "socket"),
        ]
        for (url, reason) in refused {
            #expect {
                _ = try DatabaseEndpoint(url: url)
            } throws: { error in
                "\(error)".contains(reason)
            }
        }
    }

    /// Two migrated databases standing for two hosts, with a table to write to; `primary` says
    /// which is writable at first.
    struct Pair {
        let hosts: [DatabaseEndpoint]

        static func make() async throws -> Pair {
            var hosts: [DatabaseEndpoint] = []
            for _ in 0..<2 {
                let endpoint = try await TestCluster.shared.migratedDatabase()
                try await asOwner(endpoint) { client in
                    let statements: [String] = [
                        "CREATE TABLE drill (id int PRIMARY KEY)",
                        """
                        CREATE FUNCTION cut_off() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN
                            IF NEW.id = 999 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
                            RETURN NEW;
                        END $$
                        """,
                        """
                        CREATE CONSTRAINT TRIGGER cut AFTER INSERT ON drill DEFERRABLE INITIALLY DEFERRED
                            FOR EACH ROW EXECUTE FUNCTION cut_off()
                        """,
                        "GRANT SELECT, INSERT ON drill TO registry_app",
                    ]
                    for statement in statements {
                        try await client.query(PostgresQuery(unsafeSQL: statement), logger: testLogger)
                    }
                }
                hosts.append(endpoint)
            }
            return Pair(hosts: hosts)
        }

        /// Makes host `index` a standby (read-only for new sessions, its sessions cut) or a primary.
        func set(_ index: Int, writable: Bool) async throws {
            let name = hosts[index].database
            try await withPostgresClient(
                hosts[index].with(database: "postgres").clientConfiguration(asOwner: true, maxConnections: 1),
                logger: testLogger
            ) { client in
                try await client.query(
                    PostgresQuery(unsafeSQL: "ALTER DATABASE \(name) SET default_transaction_read_only = \(writable ? "off" : "on")"),
                    logger: testLogger
                )
                if !writable {
                    try await client.query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(name) AND pid <> pg_backend_pid()",
                        logger: testLogger
                    )
                }
            }
        }

        func rows(_ index: Int) async throws -> [Int] {
            try await asOwner(hosts[index]) { client in
                var ids: [Int] = []
                for try await id in try await client.query("SELECT id FROM drill ORDER BY id", logger: testLogger).decode(Int.self) {
                    ids.append(id)
                }
                return ids
            }
        }
    }

    static func insert(_ id: Int, _ database: Database) async throws {
        try await database.transaction(logger: testLogger) { connection in
            try await connection.query("INSERT INTO drill (id) VALUES (\(id))", logger: testLogger)
        }
    }

    @Test(
        "the first host that accepts writes is used; when it stops, writes move to the new primary and run once there; a COMMIT cut off is reported as 503 commit_outcome_unknown and not run again"
    )
    func followsThePrimary() async throws {
        let pair = try await Pair.make()
        try await pair.set(0, writable: false)
        let database = try await Database.connect(endpoints: pair.hosts, maxConnections: 4, failoverWait: .seconds(10), logger: testLogger)
        defer { database.shutdown() }
        #expect(database.isCluster)

        // Host 0 is a standby: the service skipped it.
        try await Self.insert(1, database)
        #expect(try await pair.rows(1) == [1])
        #expect(try await pair.rows(0) == [])

        // Host 1 is demoted and host 0 promoted: the next write fails on 1, finds 0 and runs there once.
        try await pair.set(0, writable: true)
        try await pair.set(1, writable: false)
        try await Self.insert(2, database)
        #expect(try await pair.rows(0) == [2])
        #expect(try await pair.rows(1) == [1])
        // Reads follow too, and so does the monitor's ping.
        #expect(await database.ping(timeout: .seconds(30), logger: testLogger))
        let counted = try await database.query("SELECT count(*)::int FROM drill", logger: testLogger)
        for try await n in counted.decode(Int.self) { #expect(n == 1) }

        // A COMMIT whose connection is cut while it runs: the outcome is unknown to the service,
        // which says so (503) and does not run the transaction again.
        await #expect(throws: RegistryError.commitOutcomeUnknown) {
            try await Self.insert(999, database)
        }
        #expect(try await pair.rows(0) == [2])
        #expect(try await pair.rows(1) == [1])
        try await Self.insert(3, database)
        #expect(try await pair.rows(0) == [2, 3])
    }

    @Test(
        "with no host accepting writes, work waits for the failover wait and then answers 503 database_unavailable; it resumes when a primary is back"
    )
    func noPrimary() async throws {
        let pair = try await Pair.make()
        try await pair.set(1, writable: false)
        let database = try await Database.connect(endpoints: pair.hosts, maxConnections: 4, failoverWait: .seconds(2), logger: testLogger)
        defer { database.shutdown() }
        try await Self.insert(1, database)

        try await pair.set(0, writable: false)
        let started = ContinuousClock.now
        await #expect(throws: RegistryError.databaseUnavailable) {
            try await Self.insert(2, database)
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .seconds(1) && waited < .seconds(10), "waited \(waited)")
        #expect(!(await database.ping(timeout: .seconds(1), logger: testLogger)))

        try await pair.set(1, writable: true)
        #expect(await database.ping(timeout: .seconds(30), logger: testLogger))
        try await Self.insert(3, database)
        #expect(try await pair.rows(0) == [1])
        #expect(try await pair.rows(1) == [3])
    }

    /// Ends every session of `host`'s database but the caller's; with `allow: false` the database
    /// also refuses new ones (the server, as far as the service can tell, is gone).
    static func cut(_ host: DatabaseEndpoint, allow: Bool = true) async throws {
        try await withPostgresClient(host.with(database: "postgres").clientConfiguration(asOwner: true, maxConnections: 1), logger: testLogger) {
            client in
            try await client.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(host.database) ALLOW_CONNECTIONS \(allow)"), logger: testLogger)
            try await client.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(host.database) AND pid <> pg_backend_pid()",
                logger: testLogger
            )
        }
    }

    @Test(
        "a store's statement on a connection the server has closed fails at once as the database being unreachable; PostgresNIO alone would wait for ever"
    )
    func statementOnAClosedConnection() async throws {
        let endpoint = try await TestCluster.shared.migratedDatabase()
        try await withDatabase(endpoint, maxConnections: 2, logger: testLogger) { database in
            try await database.withConnection { connection in
                try await Self.cut(endpoint)
                while !connection.isClosed { try await Task.sleep(for: .milliseconds(10)) }
                let answered = await Database.answer(within: .seconds(10)) {
                    do {
                        try await ThrottleStore.reset(key: "k", on: connection, logger: testLogger)
                        Issue.record("a statement on a closed connection answered")
                    } catch {
                        #expect(DatabaseFailure.classify(error)?.isUnreachable == true, "\(String(reflecting: error))")
                    }
                    return true
                }
                #expect(answered, "the statement on a closed connection was still waiting after 10 s")
            }
        }
    }

    final class Acknowledged: Sendable {
        let ids = Mutex<Set<Int>>([])
    }

    /// Eight writes and eight reads at once; a failure must say the database is unreachable.
    static func burst(_ ids: Range<Int>, _ database: Database, _ acknowledged: Acknowledged) async {
        await withTaskGroup(of: Void.self) { group in
            for id in ids {
                group.addTask {
                    do {
                        try await Self.insert(id, database)
                        acknowledged.ids.withLock { _ = $0.insert(id) }
                    } catch {
                        #expect(DatabaseFailure.classify(error)?.isUnreachable == true, "\(String(reflecting: error))")
                    }
                }
                group.addTask {
                    do {
                        _ = try await database.query("SELECT count(*) FROM drill", logger: testLogger).collect()
                    } catch {
                        #expect(DatabaseFailure.classify(error)?.isUnreachable == true, "\(String(reflecting: error))")
                    }
                }
            }
        }
    }

    @Test(
        "connections the server ended while they were idle in the pool: no statement waits on one; what fails is 503 and nothing else, and every write acknowledged is there",
        arguments: [false, true]
    )
    func idleConnectionsCut(cluster: Bool) async throws {
        let pair = try await Pair.make()
        let database = try await Database.connect(
            endpoints: cluster ? pair.hosts : [pair.hosts[0]],
            maxConnections: 4,
            failoverWait: .seconds(10),
            logger: testLogger
        )
        defer { database.shutdown() }
        let acknowledged = Acknowledged()
        for round in 0..<3 {
            // Fill the pool with idle connections, then end them all on the server.
            await Self.burst(round * 100..<round * 100 + 8, database, acknowledged)
            try await Self.cut(pair.hosts[0])
            let answered = await Database.answer(within: .seconds(60)) {
                await Self.burst(round * 100 + 8..<round * 100 + 16, database, acknowledged)
                return true
            }
            #expect(answered, "round \(round): work after the cut was still waiting after 60 s")
        }
        let rows = Set(try await pair.rows(0))
        let written = acknowledged.ids.withLock { $0 }
        #expect(written.isSubset(of: rows), "acknowledged but missing: \(written.subtracting(rows).sorted())")
        #expect(written.count >= 40, "only \(written.count) of 48 writes went through")
    }

    @Test(
        "a host that goes away: work waiting for one of its connections is let go and answered 503 after the failover wait, not held by the pool; new work is refused at once; service resumes when it is back"
    )
    func hostAway() async throws {
        let pair = try await Pair.make()
        let host = pair.hosts[0]
        let database = try await Database.connect(endpoints: [host], maxConnections: 2, failoverWait: .seconds(3), logger: testLogger)
        defer { database.shutdown() }
        #expect(!database.isCluster)
        try await Self.insert(1, database)

        try await Self.cut(host, allow: false)
        // A write that is waiting for a connection when the server goes away: PostgresNIO's pool
        // would hold it for up to a minute. A search that finds no host accepting writes retires
        // the pool; the write waits out the failover wait (3 s here) and is answered 503.
        let started = ContinuousClock.now
        let waiting = Task { try await Self.insert(2, database) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!(await database.ping(timeout: .seconds(1), logger: testLogger)))
        await #expect(throws: RegistryError.databaseUnavailable) { try await waiting.value }
        #expect(ContinuousClock.now - started < .seconds(10), "\(ContinuousClock.now - started)")
        // While none is found, work is refused at once.
        let refused = ContinuousClock.now
        await #expect(throws: RegistryError.databaseUnavailable) { try await Self.insert(3, database) }
        #expect(ContinuousClock.now - refused < .seconds(1))

        try await Self.cut(host, allow: true)
        #expect(await database.ping(timeout: .seconds(30), logger: testLogger))
        try await Self.insert(4, database)
        #expect(try await pair.rows(0) == [1, 4])
    }

    @Test("a statement whose server session ends under it (57P01) is reported as the database being unavailable (503), never as a 500")
    func terminatedUnderAStatement() async throws {
        let endpoint = try await TestCluster.shared.migratedDatabase()
        try await withDatabase(endpoint, maxConnections: 2, failoverWait: .seconds(60), logger: testLogger) { database in
            do {
                _ = try await database.query("SELECT pg_terminate_backend(pg_backend_pid())", logger: testLogger).collect()
                Issue.record("the statement ended its own session and still answered")
            } catch {
                #expect(DatabaseFailure.classify(error)?.isUnreachable == true, "\(String(reflecting: error))")
            }
        }
    }

    @Test("a single-host URL keeps one pool and never looks elsewhere")
    func singleHost() async throws {
        let endpoint = try await TestCluster.shared.migratedDatabase()
        try await withDatabase(endpoint, maxConnections: 2, failoverWait: .seconds(60), logger: testLogger) { database in
            #expect(!database.isCluster)
            #expect(database.primaryLabel == nil)
            #expect(await database.ping(timeout: .seconds(30), logger: testLogger))
        }
    }
}
