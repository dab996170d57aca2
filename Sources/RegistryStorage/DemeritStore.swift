import Foundation
import Logging
import PostgresNIO

/// Agency demerit points (migration 0025): the notices, the agency's answers, the decisions,
/// and the level the points in force led to.
public enum DemeritStore {
    public struct Row: Sendable, Equatable {
        public var id: UUID
        public var agencyID: UUID
        public var agencyName: String
        public var offence: String
        public var points: Int
        public var expiresDays: Int
        public var state: String
        public var evidence: String
        public var workerID: UUID?
        public var recordedBySystem: Bool
        public var recordedAt: Date
        public var answerDue: Date
        public var answer: String?
        public var answeredAt: Date?
        public var decidedAt: Date?
        public var decidedBySystem: Bool
        public var decisionReason: String?
        public var expiresAt: Date?
    }

    static let columns = """
        d.id, d.agency_id, a.name, d.offence, d.points, d.expires_days, d.state, d.evidence, d.worker_id,
        d.recorded_by IS NULL, d.recorded_at, d.answer_due, d.answer, d.answered_at, d.decided_at,
        d.decided_at IS NOT NULL AND d.decided_by IS NULL, d.decision_reason, d.expires_at
        """

    static func rows(_ sequence: PostgresRowSequence) async throws -> [Row] {
        var result: [Row] = []
        for try await row in sequence {
            let c = row.makeRandomAccess()
            result.append(
                Row(
                    id: try c[0].decode(UUID.self),
                    agencyID: try c[1].decode(UUID.self),
                    agencyName: try c[2].decode(String.self),
                    offence: try c[3].decode(String.self),
                    points: try c[4].decode(Int.self),
                    expiresDays: try c[5].decode(Int.self),
                    state: try c[6].decode(String.self),
                    evidence: try c[7].decode(String.self),
                    workerID: try c[8].decode(UUID?.self),
                    recordedBySystem: try c[9].decode(Bool.self),
                    recordedAt: try c[10].decode(Date.self),
                    answerDue: try c[11].decode(Date.self),
                    answer: try c[12].decode(String?.self),
                    answeredAt: try c[13].decode(Date?.self),
                    decidedAt: try c[14].decode(Date?.self),
                    decidedBySystem: try c[15].decode(Bool.self),
                    decisionReason: try c[16].decode(String?.self),
                    expiresAt: try c[17].decode(Date?.self)
                )
            )
        }
        return result
    }

    /// Records a notice; nil when `eventKey` was recorded already (the same event counts once).
    public static func insert(
        agencyID: UUID,
        offence: String,
        points: Int,
        expiresDays: Int,
        evidence: String,
        workerID: UUID?,
        eventKey: String?,
        recordedBy: UUID?,
        answerDays: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID? {
        let rows = try await connection.query(
            """
            INSERT INTO agency_demerits (agency_id, offence, points, expires_days, evidence, worker_id, event_key, recorded_by, answer_due)
            VALUES (\(agencyID), \(offence), \(points), \(expiresDays), \(evidence), \(workerID), \(eventKey), \(recordedBy),
                    now() + \(answerDays) * interval '1 day')
            ON CONFLICT (event_key) DO NOTHING
            RETURNING id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        return nil
    }

    public static func get(_ id: UUID, lock: Bool, on connection: PostgresConnection, logger: Logger) async throws -> Row? {
        let rows =
            lock
            ? try await connection.query(
                "SELECT \(unescaped: columns) FROM agency_demerits d JOIN agencies a ON a.id = d.agency_id WHERE d.id = \(id) FOR UPDATE OF d",
                logger: logger
            )
            : try await connection.query(
                "SELECT \(unescaped: columns) FROM agency_demerits d JOIN agencies a ON a.id = d.agency_id WHERE d.id = \(id)",
                logger: logger
            )
        return try await Self.rows(rows).first
    }

    /// An agency's demerits, newest first.
    public static func forAgency(_ agencyID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Row] {
        try await rows(
            connection.query(
                """
                SELECT \(unescaped: columns) FROM agency_demerits d JOIN agencies a ON a.id = d.agency_id
                WHERE d.agency_id = \(agencyID) ORDER BY d.recorded_at DESC, d.id LIMIT 500
                """,
                logger: logger
            )
        )
    }

    /// Notices waiting for an answer or a decision, oldest first (the administrators' queue).
    public static func open(on connection: PostgresConnection, logger: Logger) async throws -> [Row] {
        try await rows(
            connection.query(
                """
                SELECT \(unescaped: columns) FROM agency_demerits d JOIN agencies a ON a.id = d.agency_id
                WHERE d.state IN ('notified', 'answered') ORDER BY d.recorded_at, d.id LIMIT 500
                """,
                logger: logger
            )
        )
    }

    public static func answer(_ id: UUID, text: String, by user: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE agency_demerits SET state = 'answered', answer = \(text), answered_by = \(user), answered_at = now()
            WHERE id = \(id) AND state = 'notified'
            """,
            logger: logger
        )
    }

    /// Upholds (counting from now for its days) or withdraws; `by` nil: upheld unanswered by the job.
    public static func decide(
        _ id: UUID,
        uphold: Bool,
        by user: UUID?,
        reason: String?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE agency_demerits
            SET state = \(uphold ? "upheld" : "withdrawn"), decided_by = \(user), decided_at = now(), decision_reason = \(reason),
                expires_at = CASE WHEN \(uphold) THEN now() + make_interval(days => expires_days) END
            WHERE id = \(id) AND state IN ('notified', 'answered')
            """,
            logger: logger
        )
    }

    /// Notices whose answer is overdue, claimed for this transaction (safe on several nodes).
    public static func claimOverdue(limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        let rows = try await connection.query(
            """
            SELECT id FROM agency_demerits WHERE state = 'notified' AND answer_due < now()
            ORDER BY answer_due LIMIT \(limit) FOR UPDATE SKIP LOCKED
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// The points in force (upheld, not yet expired), as `agency_standing()` (migration 0026),
    /// the one definition the report and the public page read, counts them.
    public static func pointsInForce(_ agencyID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query(
            "SELECT coalesce((agency_standing(\(agencyID))->>'points')::int, 0)",
            logger: logger
        )
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    /// The agency's level, locked so that two changes of points are told one after the other.
    public static func level(_ agencyID: UUID, lock: Bool, on connection: PostgresConnection, logger: Logger) async throws -> String? {
        let rows =
            lock
            ? try await connection.query("SELECT demerit_level FROM agencies WHERE id = \(agencyID) FOR UPDATE", logger: logger)
            : try await connection.query("SELECT demerit_level FROM agencies WHERE id = \(agencyID)", logger: logger)
        for try await level in rows.decode(String.self) { return level }
        return nil
    }

    public static func setLevel(_ agencyID: UUID, _ level: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE agencies SET demerit_level = \(level), demerit_level_since = now() WHERE id = \(agencyID)",
            logger: logger
        )
    }

    /// An approved (or suspended) agency as the public sees it: who it is, its points in force,
    /// level and placements (`agency_standing`), and the agency commitment it signed last.
    public struct PublicAgency: Sendable, Equatable {
        public var id: UUID
        public var name: String
        public var uscc: String
        public var regionCode: String
        public var status: String
        public var level: String
        public var points: Int
        public var placements: Int
        public var commitmentVersion: String?
        public var representative: String?
        public var signedAt: Date?
    }

    public static func publicAgency(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> PublicAgency? {
        let rows = try await connection.query(
            """
            SELECT a.id, a.name, a.uscc, a.region_code, a.status, s.level, s.points, s.placements, c.version, c.representative, c.accepted_at
            FROM agencies a
            CROSS JOIN LATERAL (
                SELECT (j->>'level') AS level, (j->>'points')::int AS points, (j->>'placements')::int AS placements
                FROM agency_standing(a.id) AS j
            ) s
            LEFT JOIN LATERAL (
                SELECT version, representative, accepted_at FROM credit_commitments
                WHERE agency_id = a.id AND kind = 'agency' ORDER BY accepted_at DESC, id DESC LIMIT 1
            ) c ON true
            WHERE a.id = \(id) AND a.status IN ('approved', 'suspended')
            """,
            logger: logger
        )
        for try await (id, name, uscc, region, status, level, points, placements, version, representative, signed) in rows.decode(
            (UUID, String, String, String, String, String, Int, Int, String?, String?, Date?).self
        ) {
            return PublicAgency(
                id: id,
                name: name,
                uscc: uscc,
                regionCode: region,
                status: status,
                level: level,
                points: points,
                placements: placements,
                commitmentVersion: version,
                representative: representative,
                signedAt: signed
            )
        }
        return nil
    }

    /// Agencies above level none, whose points may have expired since (the deadline job).
    public static func agenciesWithLevel(on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        let rows = try await connection.query("SELECT id FROM agencies WHERE demerit_level <> 'none' ORDER BY id LIMIT 10000", logger: logger)
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }
}
