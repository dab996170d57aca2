import Foundation
import PostgresNIO
import RegistryServices
import Testing

@testable import RegistryStorage

@Suite("Embedded PostgreSQL")
struct EmbeddedPostgresTests {
    @Test("creates and starts a cluster, survives a second start, and stops cleanly")
    func lifecycle() async throws {
        let folder = NSTemporaryDirectory() + "registry-embedded-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cluster = EmbeddedPostgres(dataDirectory: folder, port: 5433)
        #expect(try cluster.start(logger: testLogger) == .started)
        #expect(try cluster.isRunning())
        // A second registry against the same folder reuses the running cluster.
        #expect(try EmbeddedPostgres(dataDirectory: folder, port: 5433).start(logger: testLogger) == .reused)
        // It answers on its private socket, with synchronous_commit on.
        try await withPostgresClient(
            cluster.endpoint(database: "postgres").clientConfiguration(asOwner: true, maxConnections: 1),
            logger: testLogger
        ) { client in
            let rows = try await client.query("SHOW synchronous_commit", logger: testLogger)
            #expect(try await single(rows, String.self) == "on")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/run")
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        cluster.stop(logger: testLogger)
        #expect(try !cluster.isRunning())
        // And starts again on the existing data.
        #expect(try cluster.start(logger: testLogger) == .started)
        cluster.stop(logger: testLogger)
        #expect(try !cluster.isRunning())
    }

    @Test("every connection signs in with a password, on the private socket too; the service role has its own")
    func passwordsRequired() async throws {
        let folder = NSTemporaryDirectory() + "registry-embedded-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cluster = EmbeddedPostgres(dataDirectory: folder, port: 5434)
        _ = try cluster.start(logger: testLogger)
        defer { cluster.stop(logger: testLogger) }
        #expect(!cluster.trustsLocalConnections)
        let endpoint = cluster.endpoint(database: "postgres")
        #expect(endpoint.password != nil && endpoint.appPassword != nil && endpoint.password != endpoint.appPassword)
        #expect(await Self.signsIn(cluster, password: endpoint.password))
        #expect(!(await Self.signsIn(cluster, password: nil)))
        #expect(!(await Self.signsIn(cluster, password: "not the password")))
    }

    @Test("a cluster made with password-less local connections is switched to passwords")
    func trustClusterIsSecured() async throws {
        let folder = NSTemporaryDirectory() + "registry-embedded-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cluster = EmbeddedPostgres(dataDirectory: folder, port: 5435)
        _ = try cluster.start(logger: testLogger)
        defer { cluster.stop(logger: testLogger) }
        // Play the earlier version: local connections trusted.
        let hba = folder + "/pg/pg_hba.conf"
        let text = try String(contentsOfFile: hba, encoding: .utf8)
        try text.replacingOccurrences(of: "scram-sha-256", with: "trust").write(toFile: hba, atomically: false, encoding: .utf8)
        _ = try Subprocess.run(
            try EmbeddedPostgres.binDirectory() + "/pg_ctl",
            ["-D", folder + "/pg", "reload"],
            as: geteuid() == 0 ? "postgres" : nil
        )
        try await Task.sleep(for: .milliseconds(300))
        #expect(cluster.trustsLocalConnections)
        try await cluster.requirePasswords(logger: testLogger)
        #expect(!cluster.trustsLocalConnections)
        try await Task.sleep(for: .milliseconds(300))
        #expect(!(await Self.signsIn(cluster, password: nil)))
        // With its password it still gets in.
        #expect(await Self.signsIn(cluster, password: cluster.endpoint().password))
    }

    /// Whether the owner gets in with `password`: one connection, no pool (a pool would keep
    /// retrying a refused sign-in).
    static func signsIn(_ cluster: EmbeddedPostgres, password: String?) async -> Bool {
        do {
            let connection = try await PostgresConnection.connect(
                configuration: .init(
                    unixSocketPath: cluster.socketPath,
                    username: EmbeddedPostgres.superuser,
                    password: password,
                    database: "postgres"
                ),
                id: 1,
                logger: testLogger
            )
            try await connection.close()
            return true
        } catch { return false }
    }
}
