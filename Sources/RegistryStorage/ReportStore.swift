import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// The reads behind a worker's credit report.
public enum ReportStore {
    public struct Grade: Sendable, Codable, Equatable {
        public var grade: String
        public var composite: Double
        public var ethicsScore: Double
        public var skillScore: Double
        public var reasons: String
        public var policyVersion: String
        public var computedAt: Date
    }

    public static func grade(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Grade? {
        let rows = try await connection.query(
            """
            SELECT grade, composite::float8, ethics_score::float8, skill_score::float8, reasons::text, policy_version, computed_at
            FROM grades WHERE worker_id = \(workerID)
            """,
            logger: logger
        )
        for try await (grade, composite, ethics, skill, reasons, version, at) in rows.decode(
            (String, Double, Double, Double, String, String, Date).self
        ) {
            return Grade(
                grade: grade,
                composite: composite,
                ethicsScore: ethics,
                skillScore: skill,
                reasons: reasons,
                policyVersion: version,
                computedAt: at
            )
        }
        return nil
    }

    public struct FlagSummary: Sendable, Codable, Equatable {
        public var source: String
        public var sourceKind: String
        public var category: String
        public var occurredOn: String
        public var status: String
    }

    /// Flags on the file, without any narrative; repaired ones (an approved repair) are not shown.
    public static func flags(_ workerID: UUID, today: String, on connection: PostgresConnection, logger: Logger) async throws -> [FlagSummary] {
        let rows = try await connection.query(
            """
            SELECT s.display_name, s.kind, f.category, f.occurred_on::text, f.status
            FROM flags f JOIN integration_sources s ON s.id = f.source_id
            WHERE f.worker_id = \(workerID) AND f.status <> 'retracted' AND (f.expires_on IS NULL OR f.expires_on >= \(today)::date)
              AND NOT EXISTS (SELECT 1 FROM flag_repairs r WHERE r.flag_id = f.id AND r.status = 'approved')
            ORDER BY f.occurred_on DESC
            """,
            logger: logger
        )
        var result: [FlagSummary] = []
        for try await (source, kind, category, on, status) in rows.decode((String, String, String, String, String).self) {
            result.append(FlagSummary(source: source, sourceKind: kind, category: category, occurredOn: on, status: status))
        }
        return result
    }

    public struct Standing: Sendable, Codable, Equatable {
        public var revoked: Bool
        public var revokedSince: Date?
        public var suspended: Bool
        public var suspendedSince: Date?
    }

    public static func standing(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Standing {
        let rows = try await connection.query(
            """
            SELECT (SELECT executed_at FROM bans WHERE worker_id = \(workerID) AND lifted_at IS NULL),
                   (SELECT min(started_at) FROM suspensions WHERE worker_id = \(workerID) AND lifted_at IS NULL)
            """,
            logger: logger
        )
        for try await (ban, suspension) in rows.decode((Date?, Date?).self) {
            return Standing(revoked: ban != nil, revokedSince: ban, suspended: suspension != nil, suspendedSince: suspension)
        }
        return Standing(revoked: false, revokedSince: nil, suspended: false, suspendedSince: nil)
    }

    /// True when an active ban exists for the blind index (public lookup).
    public static func isRevoked(blindIndex: Data, database: Database, logger: Logger) async throws -> Bool {
        let rows = try await database.query(
            """
            SELECT EXISTS (SELECT 1 FROM workers w JOIN bans b ON b.worker_id = w.id AND b.lifted_at IS NULL
                           WHERE w.id_blind_index = \(blindIndex))
            """,
            logger: logger
        )
        for try await revoked in rows.decode(Bool.self) { return revoked }
        return false
    }

    public struct Listing: Sendable, Codable, Equatable {
        public var id: UUID
        public var fullName: String
        public var birthDate: String
        public var homeRegion: String
        public var categories: [String]
        public var grade: String?
        public var topLevel: Int?
    }

    /// Workers who listed themselves for hire, filtered; ordered by grade then name.
    public static func available(
        region: String?,
        category: String?,
        minLevel: Int?,
        grades: [String]?,
        limit: Int,
        offset: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Listing] {
        let regionPrefix = region.map { $0.hasSuffix("0000") ? String($0.prefix(2)) + "%" : ($0.hasSuffix("00") ? String($0.prefix(4)) + "%" : $0) }
        let rows = try await connection.query(
            """
            SELECT w.id, w.full_name, w.birth_date::text, w.home_region, w.service_categories, g.grade, s.level
            FROM workers w
            LEFT JOIN grades g ON g.worker_id = w.id
            LEFT JOIN LATERAL (
                SELECT max(level)::int AS level FROM (
                    SELECT DISTINCT ON (category) category, level FROM skill_assessments
                    WHERE worker_id = w.id AND (\(category)::text IS NULL OR category = \(category))
                    ORDER BY category, assessed_on DESC, created_at DESC) latest
            ) s ON true
            WHERE w.available_for_hire AND w.status = 'active'
              AND (\(regionPrefix)::text IS NULL OR w.home_region LIKE \(regionPrefix))
              AND (\(category)::text IS NULL OR \(category) = ANY (w.service_categories))
              AND (\(minLevel.map(Int32.init))::int IS NULL OR coalesce(s.level, 0) >= \(minLevel.map(Int32.init)))
              AND (\(grades)::text[] IS NULL OR g.grade = ANY (\(grades)))
            ORDER BY coalesce(g.grade, 'E'), w.full_name, w.id
            LIMIT \(limit) OFFSET \(offset)
            """,
            logger: logger
        )
        var result: [Listing] = []
        for try await (id, name, birth, region, categories, grade, level) in rows.decode((UUID, String, String, String, [String], String?, Int?).self)
        {
            result.append(
                Listing(id: id, fullName: name, birthDate: birth, homeRegion: region, categories: categories, grade: grade, topLevel: level)
            )
        }
        return result
    }

    public static func isAvailable(_ workerID: UUID, database: Database, logger: Logger) async throws -> Bool {
        for try await value in try await database.query("SELECT available_for_hire FROM workers WHERE id = \(workerID)", logger: logger)
            .decode(Bool.self)
        {
            return value
        }
        return false
    }

    public static func setAvailable(_ workerID: UUID, _ available: Bool, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE workers SET available_for_hire = \(available), available_since = CASE WHEN \(available) THEN now() ELSE NULL END
            WHERE id = \(workerID)
            """,
            logger: logger
        )
    }
}
