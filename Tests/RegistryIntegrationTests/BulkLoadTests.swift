import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// `registry demo` loads an empty registry without the file tables' foreign keys and plain
/// indexes, then rebuilds them (migration 0020). These check that nothing is lost on the way.
@Suite("Bulk load: keys and indexes set aside and rebuilt")
struct BulkLoadTests {
    static func definitions(_ registry: Registry) async throws -> [String] {
        let rows = try await registry.database.query(
            """
            SELECT conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
            WHERE contype = 'f' AND conrelid::regclass::text IN ('tenures', 'transfers', 'engagements', 'reviews', 'review_replies',
                                                                 'skill_assessments', 'trainings', 'health_certificates')
            UNION ALL
            SELECT pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid::regclass::text IN ('tenures', 'transfers', 'engagements', 'reviews', 'review_replies', 'skill_assessments',
                                               'trainings', 'health_certificates')
            ORDER BY 1
            """,
            logger: testLogger
        )
        var result: [String] = []
        for try await text in rows.decode(String.self) { result.append(text) }
        return result
    }

    @Test("set aside only in an empty registry, and rebuilt exactly as they were; a second restore does nothing")
    func suspendAndRestore() async throws {
        try await withTestRegistry { registry, _ in
            let before = try await Self.definitions(registry)
            #expect(before.count > 20)
            let suspended = try await ScaleDataStore.suspendForBulkLoad(database: registry.database, logger: testLogger)
            #expect(suspended > 10)
            let during = try await Self.definitions(registry)
            #expect(during.count == before.count - suspended)
            #expect(during.allSatisfy { !$0.contains("FOREIGN KEY") })
            #expect(try await ScaleDataStore.restoreAfterBulkLoad(database: registry.database, logger: testLogger) == suspended)
            #expect(try await Self.definitions(registry) == before)
            #expect(try await ScaleDataStore.restoreAfterBulkLoad(database: registry.database, logger: testLogger) == 0)

            // With a worker on file, nothing is set aside.
            _ = try await Household.make(registry)
            await #expect(throws: (any Error).self) {
                try await ScaleDataStore.suspendForBulkLoad(database: registry.database, logger: testLogger)
            }
            #expect(try await Self.definitions(registry) == before)
        }
    }
}
