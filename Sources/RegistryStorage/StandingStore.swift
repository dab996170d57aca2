import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// A worker's standing: interim suspensions and bans, and the status they give her. The one file
/// that writes the `suspensions` and `bans` tables and a worker's suspended or revoked status.
public enum StandingStore {
    // MARK: Suspensions a flag caused

    /// Opens an interim suspension for the flag unless one is open; returns the new suspension's id
    /// (none when one was open already).
    public static func openSuspension(
        workerID: UUID,
        flagID: UUID,
        reason: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [UUID] {
        let rows = try await connection.query(
            """
            INSERT INTO suspensions (worker_id, flag_id, reason)
            SELECT \(workerID), \(flagID), \(reason)
            WHERE NOT EXISTS (SELECT 1 FROM suspensions WHERE flag_id = \(flagID) AND lifted_at IS NULL)
            RETURNING id
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// An active worker becomes suspended.
    public static func markSuspended(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE workers SET status = 'suspended' WHERE id = \(workerID) AND status = 'active'", logger: logger)
    }

    /// Lifts the flag's suspensions in force; returns their ids.
    public static func liftSuspensions(flagID: UUID, reason: String, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        let rows = try await connection.query(
            """
            UPDATE suspensions SET lifted_at = now(), lift_reason = \(reason)
            WHERE flag_id = \(flagID) AND lifted_at IS NULL RETURNING id
            """,
            logger: logger
        )
        var ids: [UUID] = []
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// Lifts the open suspensions of many flags in one statement, each with its reason; returns
    /// each lifted suspension with its flag and worker.
    public static func liftSuspensions(
        flagIDs: [UUID],
        reasons: [String],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(suspension: UUID, flag: UUID, worker: UUID)] {
        guard !flagIDs.isEmpty else { return [] }
        let rows = try await connection.query(
            """
            UPDATE suspensions s SET lifted_at = now(), lift_reason = u.r
            FROM unnest(\(flagIDs)::uuid[], \(reasons)::text[]) AS u(f, r)
            WHERE s.flag_id = u.f AND s.lifted_at IS NULL
            RETURNING s.id, s.flag_id, s.worker_id
            """,
            logger: logger
        )
        var lifted: [(suspension: UUID, flag: UUID, worker: UUID)] = []
        for try await (id, flag, worker) in rows.decode((UUID, UUID, UUID).self) { lifted.append((id, flag, worker)) }
        return lifted
    }

    /// A suspended worker is active again once no suspension of hers is in force.
    public static func reactivateIfUnsuspended(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE workers SET status = 'active' WHERE id = \(workerID) AND status = 'suspended'
              AND NOT EXISTS (SELECT 1 FROM suspensions WHERE worker_id = \(workerID) AND lifted_at IS NULL)
            """,
            logger: logger
        )
    }

    // MARK: A case's suspensions and its ban

    /// An interim suspension for the case, unless one is in force; the worker's status follows.
    /// False when one was already in force.
    public static func suspend(
        caseID: UUID,
        workerID: UUID,
        reason: String,
        by admin: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO suspensions (worker_id, case_id, reason, decided_by)
            SELECT \(workerID), \(caseID), \(reason), \(admin)
            WHERE NOT EXISTS (SELECT 1 FROM suspensions WHERE case_id = \(caseID) AND lifted_at IS NULL) RETURNING id
            """,
            logger: logger
        )
        var created = false
        for try await _ in rows.decode(UUID.self) { created = true }
        guard created else { return false }
        try await markSuspended(workerID, on: connection, logger: logger)
        return true
    }

    /// The one way a case's suspensions are lifted: every one in force, with the reason (and the
    /// administrator, when one decided it); the worker is active again when no other suspension
    /// holds her. True when one was in force.
    @discardableResult
    public static func liftSuspensions(
        caseID: UUID,
        workerID: UUID,
        reason: String,
        by admin: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE suspensions SET lifted_at = now(), lifted_by = coalesce(\(admin), lifted_by), lift_reason = \(reason)
            WHERE case_id = \(caseID) AND lifted_at IS NULL RETURNING id
            """,
            logger: logger
        )
        var lifted = false
        for try await _ in rows.decode(UUID.self) { lifted = true }
        try await reactivateIfUnsuspended(workerID, on: connection, logger: logger)
        return lifted
    }

    /// The case's interim suspension in force, if any: when it started and why.
    public static func caseSuspension(
        _ caseID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (
        startedAt: Date, reason: String
    )? {
        for try await (at, reason) in try await connection.query(
            "SELECT started_at, reason FROM suspensions WHERE case_id = \(caseID) AND lifted_at IS NULL ORDER BY started_at LIMIT 1",
            logger: logger
        ).decode((Date, String).self) { return (at, reason) }
        return nil
    }

    /// Whether the ban of this case is in force.
    public static func banInForce(caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        for try await n in try await connection.query(
            "SELECT count(*)::int FROM bans WHERE case_id = \(caseID) AND lifted_at IS NULL",
            logger: logger
        ).decode(Int.self) { return n > 0 }
        return false
    }

    /// The ban a revocation case ends in: the ban row, and the worker revoked and unlisted.
    public static func ban(caseID: UUID, workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "INSERT INTO bans (worker_id, case_id) VALUES (\(workerID), \(caseID)) ON CONFLICT DO NOTHING",
            logger: logger
        )
        try await connection.query(
            "UPDATE workers SET status = 'revoked', available_for_hire = false WHERE id = \(workerID)",
            logger: logger
        )
    }

    /// Lifts the ban of `bannedCase`, by `byCase` (a reinstatement, or the banned case itself when
    /// its appeal is upheld); the worker is active again unless another ban or a suspension holds her.
    public static func liftBan(of bannedCase: UUID, workerID: UUID, byCase: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE bans SET lifted_at = now(), lifted_by_case_id = \(byCase) WHERE case_id = \(bannedCase) AND lifted_at IS NULL
            """,
            logger: logger
        )
        try await connection.query(
            """
            UPDATE workers SET status = CASE WHEN EXISTS (SELECT 1 FROM suspensions WHERE worker_id = \(workerID) AND lifted_at IS NULL)
                                             THEN 'suspended' ELSE 'active' END
            WHERE id = \(workerID) AND status = 'revoked'
              AND NOT EXISTS (SELECT 1 FROM bans WHERE worker_id = \(workerID) AND lifted_at IS NULL)
            """,
            logger: logger
        )
    }
}
