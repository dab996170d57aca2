import Foundation
import Logging
import PostgresNIO

/// Cases against agencies (migration 0028).
public enum AgencyCaseStore {
    public struct Row: Sendable, Equatable {
        public var id: UUID
        public var agencyID: UUID
        public var agencyName: String
        public var openedAt: Date
        public var points: Int
        public var state: String
        public var proposal: String?
        public var proposalReason: String?
        public var proposedBy: UUID?
        public var objectionUntil: Date?
        public var objection: String?
        public var outcome: String?
        public var decisionReason: String?
        public var decidedAt: Date?
    }

    static let columns = """
        c.id, c.agency_id, a.name, c.opened_at, c.points, c.state, c.proposal, c.proposal_reason, c.proposed_by,
        c.objection_until, c.objection, c.outcome, c.decision_reason, c.decided_at
        """

    static func rows(_ sequence: PostgresRowSequence) async throws -> [Row] {
        var result: [Row] = []
        for try await (id, agency, name, opened, points, state, proposal, reason, by, until, objection, outcome, decision, decided)
            in sequence.decode(
                (UUID, UUID, String, Date, Int, String, String?, String?, UUID?, Date?, String?, String?, String?, Date?).self
            )
        {
            result.append(
                Row(
                    id: id,
                    agencyID: agency,
                    agencyName: name,
                    openedAt: opened,
                    points: points,
                    state: state,
                    proposal: proposal,
                    proposalReason: reason,
                    proposedBy: by,
                    objectionUntil: until,
                    objection: objection,
                    outcome: outcome,
                    decisionReason: decision,
                    decidedAt: decided
                )
            )
        }
        return result
    }

    /// Opens a case against the agency unless one is open; the new case's id, or nil.
    public static func open(agencyID: UUID, points: Int, on connection: PostgresConnection, logger: Logger) async throws -> UUID? {
        let rows = try await connection.query(
            """
            INSERT INTO agency_cases (agency_id, points) VALUES (\(agencyID), \(points))
            ON CONFLICT (agency_id) WHERE state <> 'decided' DO NOTHING
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
                "SELECT \(unescaped: columns) FROM agency_cases c JOIN agencies a ON a.id = c.agency_id WHERE c.id = \(id) FOR UPDATE OF c",
                logger: logger
            )
            : try await connection.query(
                "SELECT \(unescaped: columns) FROM agency_cases c JOIN agencies a ON a.id = c.agency_id WHERE c.id = \(id)",
                logger: logger
            )
        return try await Self.rows(rows).first
    }

    /// Cases not yet decided (all agencies), or every case of one agency; oldest first.
    public static func list(agencyID: UUID?, on connection: PostgresConnection, logger: Logger) async throws -> [Row] {
        try await rows(
            connection.query(
                """
                SELECT \(unescaped: columns) FROM agency_cases c JOIN agencies a ON a.id = c.agency_id
                WHERE (\(agencyID)::uuid IS NULL AND c.state <> 'decided') OR c.agency_id = \(agencyID)
                ORDER BY c.opened_at LIMIT 500
                """,
                logger: logger
            )
        )
    }

    public static func propose(
        _ id: UUID,
        proposal: String,
        reason: String,
        by admin: UUID,
        objectionDays: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE agency_cases SET state = 'proposed', proposal = \(proposal), proposal_reason = \(reason), proposed_by = \(admin),
                   proposed_at = now(), objection_until = now() + \(objectionDays) * interval '1 day'
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

    public static func object(_ id: UUID, text: String, by user: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE agency_cases SET state = 'objected', objection = \(text), objected_by = \(user), objected_at = now() WHERE id = \(id)",
            logger: logger
        )
    }

    public static func decide(
        _ id: UUID,
        outcome: String,
        reason: String,
        by admin: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE agency_cases SET state = 'decided', outcome = \(outcome), decision_reason = \(reason), decided_by = \(admin), decided_at = now()
            WHERE id = \(id)
            """,
            logger: logger
        )
    }
}
