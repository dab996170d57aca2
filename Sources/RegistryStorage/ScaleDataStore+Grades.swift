import Foundation
import Logging
import PostgresNIO

extension ScaleDataStore {
    /// The workers whose current agency is one of `agencies` (those of one scale set), by id.
    public static func workerIDs(agencies: [UUID], database: Database, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        let rows = try await database.query(
            """
            SELECT id FROM workers WHERE current_agency_id = ANY(\(agencies)::uuid[]) ORDER BY id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }
}
