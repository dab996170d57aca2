import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Transfers of custody between agencies.
public enum TransferStore {
    public struct Transfer: Sendable, Equatable {
        public var id: UUID
        public var workerID: UUID
        public var workerName: String
        public var fromAgencyID: UUID
        public var fromAgencyName: String
        public var toAgencyID: UUID
        public var toAgencyName: String
        public var status: TransferStatus
        public var requestedAt: Date
        public var requestedBy: UUID
        public var consentCodeHash: Data?
        public var consentCodeExpiresAt: Date?
        public var consentAttempts: Int
        public var consentedAt: Date?
        public var consentMethod: String?
        public var sealDeadline: Date?
        public var completedAt: Date?
        public var completedHow: String?
        public var closeReason: String?
    }

    /// Opens a transfer; a 409 when another is already open for the worker.
    public static func create(
        workerID: UUID,
        from: UUID,
        to: UUID,
        by: UUID,
        codeHash: Data,
        codeMinutes: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO transfers (worker_id, from_agency_id, to_agency_id, requested_by, consent_code_hash, consent_code_expires_at)
                VALUES (\(workerID), \(from), \(to), \(by), \(codeHash), now() + make_interval(mins => \(Int32(codeMinutes))))
                RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(UUID.self) { return id }
            throw RegistryError(.unavailable, code: "insert_failed", message: "The transfer was not requested.")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw RegistryError(
                .conflict,
                code: "transfer_open",
                message: "A transfer of this worker is already open. It must be completed, rejected, cancelled or have lapsed first."
            )
        }
    }

    static let select: String = """
        SELECT t.id, t.worker_id, w.full_name, t.from_agency_id, fa.name, t.to_agency_id, ta.name, t.status, t.requested_at, t.requested_by,
               t.consent_code_hash, t.consent_code_expires_at, t.consent_attempts, t.consented_at, t.consent_method,
               t.seal_deadline, t.completed_at, t.completed_how, t.close_reason
        FROM transfers t JOIN workers w ON w.id = t.worker_id
        JOIN agencies fa ON fa.id = t.from_agency_id JOIN agencies ta ON ta.id = t.to_agency_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [Transfer] {
        var result: [Transfer] = []
        for try await (
            id, worker, name, from, fromName, to, toName, status, requestedAt, requestedBy, hash, expires, attempts, consentedAt, method,
            deadline, completedAt, how, reason
        )
            in rows.decode(
                (
                    UUID, UUID, String, UUID, String, UUID, String, String, Date, UUID, Data?, Date?, Int32, Date?, String?,
                    Date?, Date?, String?, String?
                ).self
            )
        {
            result.append(
                Transfer(
                    id: id,
                    workerID: worker,
                    workerName: name,
                    fromAgencyID: from,
                    fromAgencyName: fromName,
                    toAgencyID: to,
                    toAgencyName: toName,
                    status: TransferStatus(rawValue: status) ?? .cancelled,
                    requestedAt: requestedAt,
                    requestedBy: requestedBy,
                    consentCodeHash: hash,
                    consentCodeExpiresAt: expires,
                    consentAttempts: Int(attempts),
                    consentedAt: consentedAt,
                    consentMethod: method,
                    sealDeadline: deadline,
                    completedAt: completedAt,
                    completedHow: how,
                    closeReason: reason
                )
            )
        }
        return result
    }

    /// One transfer, locked for the transition about to happen.
    public static func lock(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Transfer? {
        let rows = try await connection.query(
            PostgresQuery(unsafeSQL: select + " WHERE t.id = $1 FOR UPDATE OF t", binds: binds(id)),
            logger: logger
        )
        return try await decode(rows).first
    }

    public static func get(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Transfer? {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: select + " WHERE t.id = $1", binds: binds(id)), logger: logger)
        return try await decode(rows).first
    }

    /// Transfers into or out of an agency, newest first.
    public static func list(agencyID: UUID, openOnly: Bool, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [Transfer]
    {
        var b = PostgresBindings()
        b.append(agencyID)
        b.append(openOnly)
        b.append(limit)
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: select + """
                     WHERE (t.from_agency_id = $1 OR t.to_agency_id = $1)
                       AND (NOT $2 OR t.status IN ('requested', 'consented'))
                     ORDER BY t.requested_at DESC LIMIT $3
                    """,
                binds: b
            ),
            logger: logger
        )
        return try await decode(rows)
    }

    /// A worker's transfers, oldest first (at most the newest `limit`).
    public static func forWorker(
        _ workerID: UUID,
        openOnly: Bool = false,
        limit: Int = 200,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Transfer] {
        var b = binds(workerID)
        b.append(openOnly)
        b.append(limit)
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: select + """
                     WHERE t.worker_id = $1 AND (NOT $2 OR t.status IN ('requested', 'consented'))
                     ORDER BY t.requested_at DESC LIMIT $3
                    """,
                binds: b
            ),
            logger: logger
        )
        return try await decode(rows).reversed()
    }

    /// Every agency's transfers, newest first (administrators).
    public static func all(openOnly: Bool, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [Transfer] {
        var b = PostgresBindings()
        b.append(openOnly)
        b.append(limit)
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: select + """
                     WHERE (NOT $1 OR t.status IN ('requested', 'consented'))
                     ORDER BY t.requested_at DESC LIMIT $2
                    """,
                binds: b
            ),
            logger: logger
        )
        return try await decode(rows)
    }

    static func binds(_ id: UUID) -> PostgresBindings {
        var b = PostgresBindings()
        b.append(id)
        return b
    }

    public static func countFailedCode(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE transfers SET consent_attempts = consent_attempts + 1 WHERE id = \(id)", logger: logger)
    }

    public static func replaceCode(_ id: UUID, codeHash: Data, codeMinutes: Int, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE transfers SET consent_code_hash = \(codeHash), codes_sent = codes_sent + 1,
                   consent_code_expires_at = now() + make_interval(mins => \(Int32(codeMinutes)))
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

    /// Codes sent so far for a transfer.
    public static func codesSent(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        let rows = try await connection.query("SELECT codes_sent FROM transfers WHERE id = \(id)", logger: logger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    public static func markConsented(_ id: UUID, method: String, deadlineDays: Int, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE transfers SET status = 'consented', consented_at = now(), consent_method = \(method),
                   consent_code_hash = NULL, seal_deadline = now() + make_interval(days => \(Int32(deadlineDays)))
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

    public static func close(
        _ id: UUID,
        status: TransferStatus,
        by: UUID?,
        reason: String?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE transfers SET status = \(status.rawValue), closed_at = now(), closed_by = \(by), close_reason = \(reason),
                   consent_code_hash = NULL
            WHERE id = \(id)
            """,
            logger: logger
        )
    }

    public static func complete(_ id: UUID, how: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE transfers SET status = 'completed', completed_at = now(), completed_how = \(how) WHERE id = \(id)
            """,
            logger: logger
        )
    }

    /// Requests still unanswered that were made before `requestedBefore`, claimed without blocking other nodes.
    public static func claimUnanswered(requestedBefore: Date, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        let rows = try await connection.query(
            """
            SELECT id FROM transfers WHERE status = 'requested' AND requested_at < \(requestedBefore)
            ORDER BY requested_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// Consented transfers whose sealing deadline passed, claimed without blocking other nodes.
    public static func claimOverdue(limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        let rows = try await connection.query(
            """
            SELECT id FROM transfers WHERE status = 'consented' AND seal_deadline <= now()
            ORDER BY seal_deadline LIMIT \(limit) FOR UPDATE SKIP LOCKED
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }
}
