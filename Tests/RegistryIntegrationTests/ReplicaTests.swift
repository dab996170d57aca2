import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// `DATABASE_READ_URL`: the public ban lookup and the for-hire listing read from a copy while it
/// is within the lag bound, and from the primary otherwise.
///
/// The copy here is a clone of the test database taken at one moment (`CREATE DATABASE … TEMPLATE`),
/// which is what a lagging standby is: the primary's past. How far behind it is comes from its
/// `replication_clock` row, which the test sets as replication would.
@Suite("A read copy for the ban lookup and the for-hire listing")
struct ReplicaTests {
    /// A copy of `endpoint`'s database as it is now.
    static func copy(of endpoint: DatabaseEndpoint) async throws -> DatabaseEndpoint {
        let name = endpoint.database + "_copy"
        try await withPostgresClient(endpoint.with(database: "postgres").clientConfiguration(asOwner: true, maxConnections: 1), logger: testLogger) {
            client in
            // Cloning needs the source to itself: cut its sessions, and try again if one slips back in.
            for attempt in 1...20 {
                try await client.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \(endpoint.database) AND pid <> pg_backend_pid()",
                    logger: testLogger
                )
                do {
                    try await client.query(
                        PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(endpoint.database)"),
                        logger: testLogger
                    )
                    return
                } catch  where attempt < 20 {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        return endpoint.with(database: name)
    }

    /// Sets how far behind the copy says it is.
    static func setBehind(_ copy: DatabaseEndpoint, seconds: Int) async throws {
        try await asOwner(copy) { client in
            try await client.query(
                "UPDATE replication_clock SET beat_at = clock_timestamp() - make_interval(secs => \(Double(seconds)))",
                logger: testLogger
            )
        }
    }

    static func search(_ registry: Registry, _ caller: Caller) async throws -> [String] {
        try await registry.reports.searchAvailable(
            .init(region: nil, category: nil, minLevel: nil, minGrade: nil, limit: 50, offset: 0),
            caller: caller,
            logger: testLogger
        ).map(\.id)
    }

    @Test(
        "reads go to the copy while it is within the bound and to the primary past it or when it fails; the lookup's count stays on the primary",
    )
    func readCopy() async throws {
        try await withTestRegistry { primaryRegistry, endpoint in
            let h = try await Household.make(primaryRegistry)
            try await primaryRegistry.accounts.setAvailable(true, caller: h.worker, logger: testLogger)
            let copy = try await Self.copy(of: endpoint)
            // After the copy was taken she withdrew from the listing: the copy is behind.
            try await primaryRegistry.accounts.setAvailable(false, caller: h.worker, logger: testLogger)

            try await withDatabase(
                endpoint,
                maxConnections: 4,
                readCopy: .init(endpoint: copy, maxLag: .seconds(5)),
                failoverWait: .seconds(60),
                logger: testLogger
            ) { database in
                let registry = try Registry(
                    configuration: primaryRegistry.configuration,
                    policies: primaryRegistry.policies,
                    database: database,
                    keys: primaryRegistry.keys,
                    clock: RegistryClock(),
                    hasher: testHasher
                )
                // Not measured yet: the primary answers.
                #expect(!database.readsFromReplica)
                #expect(try await Self.search(registry, h.employer) == [])

                // One second behind: the copy answers, with its older truth.
                try await Self.setBehind(copy, seconds: 1)
                await database.measureReplica(timeout: .seconds(10), logger: testLogger)
                #expect(database.readsFromReplica)
                #expect((database.replicaLagMilliseconds ?? 0) >= 1000)
                #expect(try await Self.search(registry, h.employer) == [h.workerID.text])

                // A minute behind: past the bound, the primary answers again.
                try await Self.setBehind(copy, seconds: 60)
                await database.measureReplica(timeout: .seconds(10), logger: testLogger)
                #expect(!database.readsFromReplica)
                #expect(try await Self.search(registry, h.employer) == [])

                // The ban lookup reads the copy while it is fresh (here the copy refuses the
                // service its bans table, so the answer can only have come from there), and counts
                // the lookup on the primary.
                try await Self.setBehind(copy, seconds: 0)
                await database.measureReplica(timeout: .seconds(10), logger: testLogger)
                #expect(database.readsFromReplica)
                try await asOwner(copy) { client in
                    try await client.query("REVOKE SELECT ON bans FROM registry_app", logger: testLogger)
                }
                let someone = Fixtures.idNumber(serial: 777)
                await #expect(throws: (any Error).self) {
                    _ = try await registry.reports.banStatus(idNumber: someone, clientAddress: "10.0.0.7", logger: testLogger)
                }
                let counted = try await asOwner(endpoint) { client in
                    var hits = 0
                    for try await n in try await client.query("SELECT coalesce(sum(hits), 0)::int FROM rate_limits", logger: testLogger).decode(
                        Int.self
                    ) {
                        hits = n
                    }
                    return hits
                }
                #expect(counted >= 1)
                try await Self.setBehind(copy, seconds: 60)
                await database.measureReplica(timeout: .seconds(10), logger: testLogger)
                #expect(try await registry.reports.banStatus(idNumber: someone, clientAddress: "10.0.0.7", logger: testLogger) == false)

            }

            // A copy that cannot be reached (no server at its address): measured unreachable, and
            // the reads go to the primary.
            var gone = copy
            gone.address = .socket(path: TestCluster.folder + "/no-server/.s.PGSQL.5432")
            try await withDatabase(
                endpoint,
                maxConnections: 4,
                readCopy: .init(endpoint: gone, maxLag: .seconds(5)),
                failoverWait: .seconds(60),
                logger: testLogger
            ) { database in
                let registry = try Registry(
                    configuration: primaryRegistry.configuration,
                    policies: primaryRegistry.policies,
                    database: database,
                    keys: primaryRegistry.keys,
                    clock: RegistryClock(),
                    hasher: testHasher
                )
                await database.measureReplica(timeout: .seconds(10), logger: testLogger)
                #expect(!database.readsFromReplica && database.replicaLagMilliseconds == nil)
                #expect(try await Self.search(registry, h.employer) == [])
            }
        }
    }

    @Test("DATABASE_READ_URL is refused without DATABASE_URL, with several hosts, and REGISTRY_READ_MAX_LAG out of range")
    func configuration() throws {
        var c = Configuration()
        c.databaseReadURL = "postgres://owner@standby:5432/registry"
        #expect(throws: (any Error).self) { _ = try DatabaseRuntime.readCopy(c) }
        c.databaseURL = "postgres://owner@primary:5432/registry"
        c.databaseAppPassword = "app password"
        let readCopy = try #require(try DatabaseRuntime.readCopy(c))
        #expect(readCopy.maxLag == .seconds(5) && readCopy.endpoint.hosts == [.tcp(host: "standby", port: 5432, requireTLS: false)])
        c.databaseReadURL = "postgres://owner@s1:5432,s2:5432/registry?target_session_attrs=read-write"
        #expect(throws: (any Error).self) { _ = try DatabaseRuntime.readCopy(c) }
        #expect(throws: (any Error).self) { _ = try Configuration.fromEnvironment(["REGISTRY_READ_MAX_LAG": "1"]) }
        #expect(try Configuration.fromEnvironment(["REGISTRY_READ_MAX_LAG": "10", "DATABASE_READ_URL": "postgres://o@h/d"]).readMaxLagSeconds == 10)
    }
}
