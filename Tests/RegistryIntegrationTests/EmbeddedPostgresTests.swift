import Foundation
import PostgresNIO
import RegistryServices
import RegistryStorage
import Testing

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
        try await withPostgresClient(cluster.endpoint(database: "postgres").clientConfiguration(asOwner: true, maxConnections: 1),
                                     logger: testLogger) { client in
            let rows = try await client.query("SHOW synchronous_commit", logger: testLogger)
            for try await value in rows.decode(String.self) { #expect(value == "on") }
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
}
