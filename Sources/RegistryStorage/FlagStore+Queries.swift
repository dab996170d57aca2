import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// The flags' effects (interim suspensions, system-opened cases) and the workers' disputes about
/// their flags.
extension FlagStore {
    // MARK: Effects

    /// The phone numbers of these workers (those that have one).
    public static func phones(workerIDs: [UUID], on connection: PostgresConnection, logger: Logger) async throws -> [UUID: String] {
        var phones: [UUID: String] = [:]
        let rows = try await connection.query(
            "SELECT id, phone FROM workers WHERE id = ANY(\(workerIDs)) AND phone IS NOT NULL",
            logger: logger
        )
        for try await (id, phone) in rows.decode((UUID, String).self) { phones[id] = phone }
        return phones
    }

    // MARK: Disputes

    /// A worker disputes one of her flags; returns the dispute's id. One open dispute per flag.
    public static func createDispute(
        flagID: UUID,
        workerID: UUID,
        raisedBy: UUID,
        reason: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID? {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO flag_disputes (flag_id, worker_id, raised_by, reason) VALUES (\(flagID), \(workerID), \(raisedBy), \(reason)) RETURNING id
                """,
                logger: logger
            )
            var id: UUID?
            for try await value in rows.decode(UUID.self) { id = value }
            return id
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(.conflict, code: "dispute_open", message: "A dispute about this flag is already open.")
        }
    }

    /// A worker's flag disputes, newest first (at most 500).
    public static func disputes(
        workerID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(id: UUID, flagID: UUID, status: String, note: String?, createdAt: Date)] {
        var rows: [(id: UUID, flagID: UUID, status: String, note: String?, createdAt: Date)] = []
        for try await row in try await connection.query(
            """
            SELECT id, flag_id, status, note, created_at FROM flag_disputes WHERE worker_id = \(workerID)
            ORDER BY created_at DESC LIMIT 500
            """,
            logger: logger
        ).decode((UUID, UUID, String, String?, Date).self) {
            rows.append(row)
        }
        return rows
    }

    public typealias DisputeRow = (
        id: UUID, flagID: UUID, workerID: UUID, source: String, reference: String, category: String, flagStatus: String,
        reason: String, status: String, note: String?, createdAt: Date
    )

    /// Flag disputes with their flag and its source, oldest first (at most 500), only the open
    /// ones when `openOnly`.
    public static func disputes(openOnly: Bool, on connection: PostgresConnection, logger: Logger) async throws -> [DisputeRow] {
        var rows: [DisputeRow] = []
        for try await row in try await connection.query(
            """
            SELECT d.id, d.flag_id, d.worker_id, s.name, f.source_ref, f.category, f.status, d.reason, d.status, d.note, d.created_at
            FROM flag_disputes d JOIN flags f ON f.id = d.flag_id JOIN integration_sources s ON s.id = f.source_id
            WHERE (NOT \(openOnly) OR d.status = 'open') ORDER BY d.created_at LIMIT 500
            """,
            logger: logger
        ).decode((UUID, UUID, UUID, String, String, String, String, String, String, String?, Date).self) {
            rows.append(row)
        }
        return rows
    }

    /// A dispute's flag and status, the dispute locked; nil when there is no such dispute.
    public static func lockDispute(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> (flagID: UUID, status: String)? {
        var found: (flagID: UUID, status: String)?
        for try await row in try await connection.query(
            "SELECT flag_id, status FROM flag_disputes WHERE id = \(id) FOR UPDATE",
            logger: logger
        ).decode((UUID, String).self) {
            found = row
        }
        return found
    }

    /// Records an administrator's answer to a dispute.
    public static func decideDispute(
        _ id: UUID,
        status: String,
        note: String,
        by admin: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE flag_disputes SET status = \(status), note = \(note), decided_at = now(), decided_by = \(admin) WHERE id = \(id)
            """,
            logger: logger
        )
    }
}
