import Foundation
import Logging
import PostgresNIO

extension NotificationStore {
    /// The code in the newest undelivered message of a template (the demo reads it instead of a
    /// phone): `nil` when there is none.
    public static func lastUnsentCode(template: String, database: Database, logger: Logger) async throws -> String? {
        let rows = try await database.query(
            """
            SELECT payload->>'code' FROM notifications WHERE template = \(template) AND sent_at IS NULL ORDER BY id DESC LIMIT 1
            """,
            logger: logger
        )
        for try await code in rows.decode(String?.self) { return code }
        return nil
    }
}
