import Foundation
import Logging
import PostgresNIO

/// The names that policy defines and the data holds: service categories and flag categories.
public enum PolicyNameStore {
    /// Where a name is used: the table and column, the name and how many rows hold it.
    public struct Use: Sendable, Equatable {
        public var place: String
        public var name: String
        public var rows: Int
    }

    /// Every service category the data holds (on workers, assessments, qualifications and
    /// engagements) and every flag category (on flags), each with where and how often.
    public static func namesInUse(database: Database, logger: Logger) async throws -> (categories: [Use], flagCategories: [Use]) {
        let rows = try await database.query(
            """
            SELECT 1, 'workers.service_categories', c, count(*)::int8 FROM workers, unnest(service_categories) AS c GROUP BY c
            UNION ALL SELECT 1, 'skill_assessments.category', category, count(*) FROM skill_assessments GROUP BY category
            UNION ALL SELECT 1, 'trainings.category', category, count(*) FROM trainings WHERE category IS NOT NULL GROUP BY category
            UNION ALL SELECT 1, 'engagements.category', category, count(*) FROM engagements GROUP BY category
            UNION ALL SELECT 2, 'flags.category', category, count(*) FROM flags GROUP BY category
            ORDER BY 1, 2, 3
            """,
            logger: logger
        )
        var categories: [Use] = []
        var flags: [Use] = []
        for try await (kind, place, name, count) in rows.decode((Int32, String, String, Int64).self) {
            let use = Use(place: place, name: name, rows: Int(count))
            if kind == 1 { categories.append(use) } else { flags.append(use) }
        }
        return (categories, flags)
    }
}
