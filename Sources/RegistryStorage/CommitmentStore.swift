import Foundation
import Logging
import PostgresNIO

/// Credit commitments (信用承诺): the agency's, signed by its legal representative, and each
/// staff member's; append-only, one per version.
public enum CommitmentStore {
    public struct Entry: Sendable, Equatable {
        public var kind: String
        public var version: String
        public var userID: UUID
        public var userName: String
        public var representative: String?
        public var acceptedAt: Date
    }

    /// Records a commitment; false when this version was already recorded (for the agency, or by this user).
    public static func record(
        kind: String,
        version: String,
        agencyID: UUID,
        userID: UUID,
        representative: String?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO credit_commitments (kind, version, agency_id, user_id, representative)
            VALUES (\(kind), \(version), \(agencyID), \(userID), \(representative))
            ON CONFLICT DO NOTHING
            RETURNING id
            """,
            logger: logger
        )
        for try await _ in rows.decode(Int64.self) { return true }
        return false
    }

    /// The commitments in force (`versions`) that a staff member still owes: "agency" while her
    /// agency's is not signed in its version, "staff" while her own is not accepted in its version.
    public static func owed(
        agencyID: UUID,
        userID: UUID,
        versions: (agency: String, staff: String),
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [String] {
        let rows = try await connection.query(
            "SELECT commitments_owed(\(agencyID), \(userID), \(versions.agency), \(versions.staff))",
            logger: logger
        )
        for try await owed in rows.decode([String].self) { return owed }
        return []
    }

    /// The agency's commitments (its own and its staff's), newest first.
    public static func forAgency(_ agencyID: UUID, database: Database, logger: Logger) async throws -> [Entry] {
        let rows = try await database.query(
            """
            SELECT c.kind, c.version, c.user_id, u.display_name, c.representative, c.accepted_at
            FROM credit_commitments c JOIN users u ON u.id = c.user_id
            WHERE c.agency_id = \(agencyID)
            ORDER BY c.accepted_at DESC, c.id DESC
            LIMIT 500
            """,
            logger: logger
        )
        var result: [Entry] = []
        for try await (kind, version, user, name, representative, at) in rows.decode((String, String, UUID, String, String?, Date).self) {
            result.append(Entry(kind: kind, version: version, userID: user, userName: name, representative: representative, acceptedAt: at))
        }
        return result
    }
}
