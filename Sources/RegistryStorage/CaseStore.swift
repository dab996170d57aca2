import Foundation
import Logging
import PostgresNIO

/// Revocation cases (the case service's other queries move here step by step).
public enum CaseStore {
    /// The ids of the newest cases (at most 20) about a worker or filed by a requester.
    public static func recentIDs(workerID: UUID?, requesterID: UUID?, database: Database, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await database.query(
            """
            SELECT id FROM cases
            WHERE (\(workerID)::uuid IS NULL OR worker_id = \(workerID)) AND (\(requesterID)::uuid IS NULL OR requester_id = \(requesterID))
            ORDER BY created_at DESC LIMIT 20
            """,
            logger: logger
        ).decode(UUID.self) { ids.append(id) }
        return ids
    }
}
