import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Disputes of sealed tenure assessments and the annotations that overturn them. The sealed
/// tenure row itself is never written here.
public enum TenureDisputeStore {
    /// A tenure as a dispute needs it.
    public struct TenureRow: Sendable, Equatable {
        public var id: UUID
        public var workerID: UUID
        public var agencyID: UUID
        public var agencyName: String
        public var sealed: Bool
        public var assessed: Bool
        public var overturned: Bool
    }

    public static func tenure(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> TenureRow? {
        let rows = try await connection.query(
            """
            SELECT t.id, t.worker_id, t.agency_id, a.name, t.sealed_at IS NOT NULL,
                   (t.ethics_rating IS NOT NULL OR t.ethics_note IS NOT NULL OR t.work_ability IS NOT NULL
                    OR t.health_status IS NOT NULL OR t.feedback_summary IS NOT NULL),
                   EXISTS (SELECT 1 FROM tenure_annotations n WHERE n.tenure_id = t.id)
            FROM tenures t JOIN agencies a ON a.id = t.agency_id WHERE t.id = \(id)
            """,
            logger: logger
        )
        for try await (id, worker, agency, name, sealed, assessed, overturned) in rows.decode((UUID, UUID, UUID, String, Bool, Bool, Bool).self) {
            return TenureRow(id: id, workerID: worker, agencyID: agency, agencyName: name, sealed: sealed, assessed: assessed, overturned: overturned)
        }
        return nil
    }

    public static func create(
        tenureID: UUID,
        workerID: UUID,
        agencyID: UUID,
        raisedBy: UUID,
        reason: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO tenure_disputes (tenure_id, worker_id, agency_id, raised_by, reason)
                VALUES (\(tenureID), \(workerID), \(agencyID), \(raisedBy), \(reason)) RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(UUID.self) { return id }
            throw RegistryError(.unavailable, code: "insert_failed", message: "Not recorded.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(.conflict, code: "dispute_open", message: "A dispute about this assessment is already open.")
        }
    }

    /// One dispute with the assessment it is about.
    public struct Dispute: Sendable, Equatable {
        public var id: UUID
        public var tenureID: UUID
        public var workerID: UUID
        public var workerName: String
        public var agencyID: UUID
        public var agencyName: String
        public var startedOn: String
        public var endedOn: String?
        public var ethicsRating: Int?
        public var ethicsNote: String?
        public var workAbility: String?
        public var reason: String
        public var status: String
        public var agencyStatement: String?
        public var agencyAnsweredAt: Date?
        public var createdAt: Date
        public var decidedAt: Date?
        public var decisionNote: String?
    }

    static let select = """
        SELECT d.id, d.tenure_id, d.worker_id, w.full_name, d.agency_id, a.name, t.started_on::text, t.ended_on::text,
               t.ethics_rating::int, t.ethics_note, t.work_ability, d.reason, d.status, d.agency_statement, d.agency_answered_at,
               d.created_at, d.decided_at, d.decision_note
        FROM tenure_disputes d JOIN tenures t ON t.id = d.tenure_id JOIN agencies a ON a.id = d.agency_id JOIN workers w ON w.id = d.worker_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Dispute] {
        var result: [Dispute] = []
        for try await row in rows {
            let c = row.makeRandomAccess()
            result.append(
                Dispute(
                    id: try c[0].decode(UUID.self),
                    tenureID: try c[1].decode(UUID.self),
                    workerID: try c[2].decode(UUID.self),
                    workerName: try c[3].decode(String.self),
                    agencyID: try c[4].decode(UUID.self),
                    agencyName: try c[5].decode(String.self),
                    startedOn: try c[6].decode(String.self),
                    endedOn: try c[7].decode(String?.self),
                    ethicsRating: try c[8].decode(Int?.self),
                    ethicsNote: try c[9].decode(String?.self),
                    workAbility: try c[10].decode(String?.self),
                    reason: try c[11].decode(String.self),
                    status: try c[12].decode(String.self),
                    agencyStatement: try c[13].decode(String?.self),
                    agencyAnsweredAt: try c[14].decode(Date?.self),
                    createdAt: try c[15].decode(Date.self),
                    decidedAt: try c[16].decode(Date?.self),
                    decisionNote: try c[17].decode(String?.self)
                )
            )
        }
        return result
    }

    /// The open disputes, oldest first (the administrators' queue; with `agencyID`, about its assessments only).
    public static func open(agencyID: UUID? = nil, on connection: PostgresConnection, logger: Logger) async throws -> [Dispute] {
        var query: PostgresQuery = "\(unescaped: select) WHERE d.status = 'open' ORDER BY d.created_at LIMIT 200"
        if let agencyID {
            query = "\(unescaped: select) WHERE d.status = 'open' AND d.agency_id = \(agencyID) ORDER BY d.created_at LIMIT 200"
        }
        return try await decode(try await connection.query(query, logger: logger))
    }

    /// A worker's own disputes, newest first.
    public static func forWorker(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Dispute] {
        try await decode(
            try await connection.query("\(unescaped: select) WHERE d.worker_id = \(workerID) ORDER BY d.created_at DESC LIMIT 200", logger: logger)
        )
    }

    public static func get(_ id: UUID, lock: Bool, on connection: PostgresConnection, logger: Logger) async throws -> Dispute? {
        let query: PostgresQuery =
            lock ? "\(unescaped: select) WHERE d.id = \(id) FOR UPDATE OF d" : "\(unescaped: select) WHERE d.id = \(id)"
        return try await decode(try await connection.query(query, logger: logger)).first
    }

    /// The agency's answer (once).
    public static func answer(_ id: UUID, statement: String, by: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE tenure_disputes SET agency_statement = \(statement), agency_answered_at = now(), agency_answered_by = \(by)
            WHERE id = \(id) AND status = 'open' AND agency_statement IS NULL
            """,
            logger: logger
        )
    }

    public static func decide(_ id: UUID, upheld: Bool, by: UUID, note: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE tenure_disputes SET status = \(upheld ? "upheld" : "rejected"), decided_at = now(), decided_by = \(by), decision_note = \(note)
            WHERE id = \(id) AND status = 'open'
            """,
            logger: logger
        )
    }

    /// The correction of an upheld dispute: a new row, the sealed tenure untouched.
    public static func annotate(
        tenureID: UUID,
        disputeID: UUID,
        reason: String,
        by: UUID,
        on connection: PostgresConnection,
        logger: Logger
    )
        async throws
    {
        try await connection.query(
            """
            INSERT INTO tenure_annotations (tenure_id, dispute_id, reason, created_by) VALUES (\(tenureID), \(disputeID), \(reason), \(by))
            """,
            logger: logger
        )
    }
}
