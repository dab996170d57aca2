import Foundation
import Logging
import PostgresNIO

/// The published lists: the blacklist (bans in force, from `bans_in_force_idx`) and the red list.
public enum PublicListStore {
    /// A ban in force as the blacklist reads it; the ID number is still sealed.
    public struct BanRow: Sendable {
        public var workerID: UUID
        public var fullName: String
        public var idCiphertext: Data
        public var categories: [String]
        public var grounds: String
        /// The day the ban took effect (the decision final and executed), China time.
        public var decidedOn: String
        public var caseYear: Int
        public var casePublicNo: Int64
    }

    /// How many bans are in force.
    public static func bansInForce(database: Database, logger: Logger) async throws -> Int {
        for try await n in try await database.query("SELECT count(*)::int8 FROM bans WHERE lifted_at IS NULL", logger: logger).decode(Int64.self) {
            return Int(n)
        }
        return 0
    }

    /// One page of the bans in force, newest first.
    public static func bans(limit: Int, offset: Int, database: Database, logger: Logger) async throws -> [BanRow] {
        let rows = try await database.query(
            """
            SELECT w.id, w.full_name, w.id_ciphertext, w.service_categories, c.grounds,
                   ((b.executed_at AT TIME ZONE 'Asia/Shanghai')::date)::text,
                   extract(year FROM c.created_at AT TIME ZONE 'Asia/Shanghai')::int8, c.public_no
            FROM bans b
            JOIN workers w ON w.id = b.worker_id
            JOIN cases c ON c.id = b.case_id
            WHERE b.lifted_at IS NULL
            ORDER BY b.executed_at DESC, b.id
            LIMIT \(Int64(limit)) OFFSET \(Int64(offset))
            """,
            logger: logger
        )
        var result: [BanRow] = []
        for try await (id, name, cipher, categories, grounds, decided, year, no) in rows.decode(
            (UUID, String, Data, [String], String, String, Int64, Int64).self
        ) {
            result.append(
                BanRow(
                    workerID: id,
                    fullName: name,
                    idCiphertext: cipher,
                    categories: categories,
                    grounds: grounds,
                    decidedOn: decided,
                    caseYear: Int(year),
                    casePublicNo: no
                )
            )
        }
        return result
    }

    /// The case's public number and year, for its reference (RC-2026-000042).
    public static func caseReference(_ caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> (year: Int, no: Int64)? {
        let rows = try await connection.query(
            "SELECT extract(year FROM created_at AT TIME ZONE 'Asia/Shanghai')::int8, public_no FROM cases WHERE id = \(caseID)",
            logger: logger
        )
        for try await (year, no) in rows.decode((Int64, Int64).self) { return (Int(year), no) }
        return nil
    }
}

/// The red list's rule as the queries apply it: the grade, held since `heldSince` or earlier,
/// and no live flag on `today`. (Opted in, active, and no open case are fixed parts of it.)
public struct RedListRule: Sendable {
    public var grade: String
    public var heldSince: String
    public var today: String

    public init(grade: String, heldSince: String, today: String) {
        self.grade = grade
        self.heldSince = heldSince
        self.today = today
    }
}

extension PublicListStore {
    /// Where she stands toward the red list: opted in, and each condition of the rule.
    public struct RedListStanding: Sendable, Equatable {
        public var optIn: Bool
        public var active: Bool
        public var grade: String?
        public var gradeSince: String?
        public var gradeHeld: Bool
        public var openCase: Bool
        public var liveFlag: Bool

        public var listed: Bool { optIn && active && gradeHeld && !openCase && !liveFlag }
    }

    public static func redListStanding(_ workerID: UUID, rule: RedListRule, database: Database, logger: Logger) async throws -> RedListStanding? {
        let rows = try await database.query(
            """
            SELECT w.red_list_opt_in, w.status = 'active', g.grade, g.grade_since::text,
                   coalesce(g.grade = \(rule.grade) AND g.grade_since <= \(rule.heldSince)::date, false),
                   EXISTS (SELECT 1 FROM cases c WHERE c.worker_id = w.id AND c.state NOT IN ('executed', 'reversed', 'withdrawn', 'closed')),
                   EXISTS (SELECT 1 FROM flags f WHERE f.worker_id = w.id AND f.status <> 'retracted'
                           AND (f.expires_on IS NULL OR f.expires_on >= \(rule.today)::date)
                           AND NOT EXISTS (SELECT 1 FROM flag_repairs r WHERE r.flag_id = f.id AND r.status = 'approved'))
            FROM workers w LEFT JOIN grades g ON g.worker_id = w.id
            WHERE w.id = \(workerID)
            """,
            logger: logger
        )
        for try await (optIn, active, grade, since, held, openCase, liveFlag) in rows.decode((Bool, Bool, String?, String?, Bool, Bool, Bool).self) {
            return RedListStanding(
                optIn: optIn,
                active: active,
                grade: grade,
                gradeSince: since,
                gradeHeld: held,
                openCase: openCase,
                liveFlag: liveFlag
            )
        }
        return nil
    }

    /// An agency's workers in custody: how many are active, and how many of them are on the red list.
    public static func redListCount(agencyID: UUID, rule: RedListRule, database: Database, logger: Logger) async throws -> (active: Int, listed: Int)
    {
        let rows = try await database.query(
            """
            SELECT count(*)::int8,
                   count(*) FILTER (WHERE w.red_list_opt_in AND g.grade = \(rule.grade) AND g.grade_since <= \(rule.heldSince)::date
                       AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.worker_id = w.id AND c.state NOT IN ('executed', 'reversed', 'withdrawn', 'closed'))
                       AND NOT EXISTS (SELECT 1 FROM flags f WHERE f.worker_id = w.id AND f.status <> 'retracted'
                           AND (f.expires_on IS NULL OR f.expires_on >= \(rule.today)::date)
                           AND NOT EXISTS (SELECT 1 FROM flag_repairs r WHERE r.flag_id = f.id AND r.status = 'approved')))::int8
            FROM workers w LEFT JOIN grades g ON g.worker_id = w.id
            WHERE w.current_agency_id = \(agencyID) AND w.status = 'active'
            """,
            logger: logger
        )
        for try await (active, listed) in rows.decode((Int64, Int64).self) { return (Int(active), Int(listed)) }
        return (0, 0)
    }

    public static func setRedListOptIn(_ workerID: UUID, _ optIn: Bool, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE workers SET red_list_opt_in = \(optIn) WHERE id = \(workerID)", logger: logger)
    }
}
