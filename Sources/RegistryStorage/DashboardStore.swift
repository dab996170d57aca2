import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// The administrators' dashboard numbers, read with a few grouped queries.
public enum DashboardStore {
    public struct Numbers: Sendable, Equatable {
        public var casesByState: [String: Int] = [:]
        /// Open cases younger than 7 days, 7 to 30 days, older than 30 days.
        public var caseAges: [Int] = [0, 0, 0]
        public var grades: [String: Int] = [:]
        /// Per source (display name): day (yyyy-MM-dd at `utcOffsetSeconds`) → flags received.
        public var flags: [String: [String: Int]] = [:]

        public init() {}
    }

    /// Open cases (states not in `closedStates`) by state and age, grades, and flags received since
    /// `flagsSince`, grouped by day in the zone `utcOffsetSeconds` east of UTC.
    public static func numbers(
        closedStates: [String],
        now: Date,
        flagsSince: Date,
        utcOffsetSeconds: Int,
        database: Database,
        logger: Logger
    ) async throws -> Numbers {
        let week = now.addingTimeInterval(-7 * 86_400)
        let month = now.addingTimeInterval(-30 * 86_400)
        return try await database.withConnection { connection in
            var numbers = Numbers()
            for try await (state, count) in try await connection.query(
                """
                SELECT state, count(*)::int FROM cases WHERE NOT (state = ANY(\(closedStates))) GROUP BY state
                """,
                logger: logger
            ).decode((String, Int).self) {
                numbers.casesByState[state] = count
            }
            for try await (young, middle, old) in try await connection.query(
                """
                SELECT count(*) FILTER (WHERE created_at > \(week))::int,
                       count(*) FILTER (WHERE created_at <= \(week) AND created_at > \(month))::int,
                       count(*) FILTER (WHERE created_at <= \(month))::int
                FROM cases WHERE NOT (state = ANY(\(closedStates)))
                """,
                logger: logger
            ).decode((Int, Int, Int).self) {
                numbers.caseAges = [young, middle, old]
            }
            for try await (grade, count) in try await connection.query(
                """
                SELECT grade, count(*)::int FROM grades GROUP BY grade
                """,
                logger: logger
            ).decode((String, Int).self) {
                numbers.grades[grade] = count
            }
            for try await (day, source, count) in try await connection.query(
                """
                SELECT to_char((f.received_at AT TIME ZONE 'UTC') + make_interval(secs => \(Double(utcOffsetSeconds))), 'YYYY-MM-DD'),
                       s.display_name, count(*)::int
                FROM flags f JOIN integration_sources s ON s.id = f.source_id
                WHERE f.received_at >= \(flagsSince)
                GROUP BY 1, s.id, s.display_name
                """,
                logger: logger
            ).decode((String, String, Int).self) {
                numbers.flags[source, default: [:]][day, default: 0] += count
            }
            return numbers
        }
    }
}
