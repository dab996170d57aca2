import Foundation
import Logging
import PostgresNIO

/// Workers' reviews of households (migration 0027).
public enum HouseholdReviewStore {
    public struct Row: Sendable, Equatable {
        public var id: UUID
        public var engagementID: UUID
        public var workerID: UUID
        public var workerName: String
        public var employerID: UUID
        public var householdName: String
        public var agencyID: UUID
        public var scores: [Int]
        public var account: String?
        public var complaint: String?
        public var complaintStatus: String?
        public var createdAt: Date
        public var reply: String?
        public var disputeReason: String?
        public var hidden: Bool
        public var decision: String?
        public var decisionNote: String?
        public var decidedAt: Date?
    }

    static let columns = """
        r.id, r.engagement_id, r.worker_id, w.full_name, r.employer_id, coalesce(u.household_name, u.display_name), r.agency_id,
        ARRAY[r.respect, r.pay_on_time, r.safety, r.agreed_duties]::int[], r.account, r.complaint, r.complaint_status,
        r.created_at, r.reply, r.dispute_reason, r.hidden, r.decision, r.decision_note, r.decided_at
        """
    static let from = "household_reviews r JOIN workers w ON w.id = r.worker_id JOIN users u ON u.id = r.employer_id"

    static func rows(_ sequence: PostgresRowSequence) async throws -> [Row] {
        var result: [Row] = []
        for try await row in sequence {
            let c = row.makeRandomAccess()
            result.append(
                Row(
                    id: try c[0].decode(UUID.self),
                    engagementID: try c[1].decode(UUID.self),
                    workerID: try c[2].decode(UUID.self),
                    workerName: try c[3].decode(String.self),
                    employerID: try c[4].decode(UUID.self),
                    householdName: try c[5].decode(String.self),
                    agencyID: try c[6].decode(UUID.self),
                    scores: try c[7].decode([Int].self),
                    account: try c[8].decode(String?.self),
                    complaint: try c[9].decode(String?.self),
                    complaintStatus: try c[10].decode(String?.self),
                    createdAt: try c[11].decode(Date.self),
                    reply: try c[12].decode(String?.self),
                    disputeReason: try c[13].decode(String?.self),
                    hidden: try c[14].decode(Bool.self),
                    decision: try c[15].decode(String?.self),
                    decisionNote: try c[16].decode(String?.self),
                    decidedAt: try c[17].decode(Date?.self)
                )
            )
        }
        return result
    }

    /// Inserts her review; nil when the engagement was reviewed already.
    public static func insert(
        engagementID: UUID,
        workerID: UUID,
        employerID: UUID,
        agencyID: UUID,
        scores: [Int],
        account: String?,
        complaint: String?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID? {
        let rows = try await connection.query(
            """
            INSERT INTO household_reviews (engagement_id, worker_id, employer_id, agency_id, respect, pay_on_time, safety, agreed_duties,
                                           account, complaint, complaint_status)
            VALUES (\(engagementID), \(workerID), \(employerID), \(agencyID), \(Int16(scores[0])), \(Int16(scores[1])), \(Int16(scores[2])),
                    \(Int16(scores[3])), \(account), \(complaint), CASE WHEN \(complaint)::text IS NULL THEN NULL ELSE 'open' END)
            ON CONFLICT (engagement_id) DO NOTHING
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
            ? try await connection.query("SELECT \(unescaped: columns) FROM \(unescaped: from) WHERE r.id = \(id) FOR UPDATE OF r", logger: logger)
            : try await connection.query("SELECT \(unescaped: columns) FROM \(unescaped: from) WHERE r.id = \(id)", logger: logger)
        return try await Self.rows(rows).first
    }

    /// A household's reviews, newest first (hidden ones too: the caller decides who sees them).
    public static func forHousehold(_ employerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Row] {
        try await rows(
            connection.query(
                "SELECT \(unescaped: columns) FROM \(unescaped: from) WHERE r.employer_id = \(employerID) ORDER BY r.created_at DESC LIMIT 200",
                logger: logger
            )
        )
    }

    /// The reviews a worker wrote, newest first.
    public static func byWorker(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Row] {
        try await rows(
            connection.query(
                "SELECT \(unescaped: columns) FROM \(unescaped: from) WHERE r.worker_id = \(workerID) ORDER BY r.created_at DESC LIMIT 200",
                logger: logger
            )
        )
    }

    /// Reviews with a complaint or a dispute waiting for an administrator, oldest first.
    public static func open(on connection: PostgresConnection, logger: Logger) async throws -> [Row] {
        try await rows(
            connection.query(
                """
                SELECT \(unescaped: columns) FROM \(unescaped: from)
                WHERE r.decided_at IS NULL AND (r.complaint_status = 'open' OR r.disputed_at IS NOT NULL)
                ORDER BY r.created_at LIMIT 500
                """,
                logger: logger
            )
        )
    }

    /// Substantiated complaints about a household, in reviews still shown.
    public static func substantiated(_ employerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query(
            """
            SELECT count(*)::int FROM household_reviews
            WHERE employer_id = \(employerID) AND complaint_status = 'substantiated' AND NOT hidden
            """,
            logger: logger
        )
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    public static func reply(_ id: UUID, text: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE household_reviews SET reply = \(text), replied_at = now() WHERE id = \(id)", logger: logger)
    }

    public static func dispute(_ id: UUID, reason: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE household_reviews SET dispute_reason = \(reason), disputed_at = now() WHERE id = \(id)",
            logger: logger
        )
    }

    public static func decide(
        _ id: UUID,
        decision: String,
        complaintStatus: String?,
        hidden: Bool,
        note: String,
        by admin: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE household_reviews
            SET decision = \(decision), decision_note = \(note), decided_by = \(admin), decided_at = now(), hidden = \(hidden),
                complaint_status = coalesce(\(complaintStatus)::text, complaint_status)
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

    /// Whether the agency has a placement with the household now (proposed or confirmed).
    public static func placing(agency: UUID, employer: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM engagements WHERE agency_id = \(agency) AND employer_id = \(employer)
                           AND status IN ('proposed', 'confirmed'))
            """,
            logger: logger
        )
        for try await yes in rows.decode(Bool.self) { return yes }
        return false
    }
}
