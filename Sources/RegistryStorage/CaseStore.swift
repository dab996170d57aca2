import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Revocation and reinstatement cases: the case row, its events, evidence, suspensions and bans.
public enum CaseStore {
    public struct Row: Sendable {
        public var id: UUID
        public var kind: String
        public var workerID: UUID
        public var requesterKind: String
        public var requesterID: UUID?
        public var requesterAgencyID: UUID?
        public var grounds: String
        public var statement: String
        public var state: CaseState
        public var outcome: CaseOutcome?
        public var proposedOutcome: CaseOutcome?
        public var proposedBy: UUID?
        public var decidedBy: UUID?
        public var noticeEndsAt: Date?
        public var objection: String?
        public var relatedCaseID: UUID?
        public var createdAt: Date
        public var updatedAt: Date
    }

    public struct Evidence: Sendable {
        public var id: UUID
        public var filename: String
        public var contentType: String
        public var sizeBytes: Int
        public var sha256: Data
        public var description: String?
        public var uploadedAt: Date
    }

    public struct Event: Sendable {
        public var command: String
        public var fromState: String
        public var toState: String
        public var actorKind: String
        public var reason: String
        public var occurredAt: Date
    }

    public struct QueueRow: Sendable {
        public var id: UUID
        public var kind: String
        public var workerID: UUID
        public var grounds: String
        public var state: String
        public var createdAt: Date
        public var updatedAt: Date
    }

    // MARK: The case

    /// The one way a case is created (by a party, by an administrator for a reinstatement, or by
    /// the system for a flag): its row and its `submit` event, in the caller's transaction (the
    /// caller adds the audit row it names). With `originFlagID`, nil when that flag already has its case.
    public static func create(
        kind: String,
        relatedCaseID: UUID? = nil,
        originFlagID: UUID? = nil,
        workerID: UUID,
        requesterKind: String,
        requesterID: UUID?,
        requesterAgencyID: UUID? = nil,
        grounds: String,
        statement: String,
        policyVersion: String,
        eventReason: String? = nil,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID? {
        let rows = try await connection.query(
            """
            INSERT INTO cases (kind, related_case_id, origin_flag_id, worker_id, requester_kind, requester_id, requester_agency_id, grounds,
                               statement, policy_version)
            SELECT \(kind), \(relatedCaseID), \(originFlagID), \(workerID), \(requesterKind), \(requesterID), \(requesterAgencyID), \(grounds),
                   \(statement), \(policyVersion)
            WHERE \(originFlagID)::uuid IS NULL OR NOT EXISTS (SELECT 1 FROM cases WHERE origin_flag_id = \(originFlagID))
            RETURNING id
            """,
            logger: logger
        )
        var id: UUID?
        for try await value in rows.decode(UUID.self) { id = value }
        guard let id else { return nil }
        try await appendEvent(
            id,
            actorKind: requesterID == nil ? "system" : "user",
            actorID: requesterID,
            command: "submit",
            from: "none",
            to: "submitted",
            reason: eventReason ?? String(statement.prefix(500)),
            on: connection,
            logger: logger
        )
        return id
    }

    public static func load(_ id: UUID, lock: Bool, on connection: PostgresConnection, logger: Logger) async throws -> Row? {
        let rows =
            lock
            ? try await connection.query(
                """
                SELECT id, kind, worker_id, requester_kind, requester_id, requester_agency_id, grounds, statement, state, outcome, proposed_outcome,
                       proposed_by, decided_by, notice_ends_at, objection, related_case_id, created_at, updated_at
                FROM cases WHERE id = \(id) FOR UPDATE
                """,
                logger: logger
            )
            : try await connection.query(
                """
                SELECT id, kind, worker_id, requester_kind, requester_id, requester_agency_id, grounds, statement, state, outcome, proposed_outcome,
                       proposed_by, decided_by, notice_ends_at, objection, related_case_id, created_at, updated_at
                FROM cases WHERE id = \(id)
                """,
                logger: logger
            )
        for try await (
            id, kind, worker, rk, rid, ragency, grounds, statement, state, outcome, proposed, proposedBy, decidedBy, notice, objection, related,
            created, updated
        )
            in rows.decode(
                (UUID, String, UUID, String, UUID?, UUID?, String, String, String, String?, String?, UUID?, UUID?, Date?, String?, UUID?, Date, Date)
                    .self
            )
        {
            return Row(
                id: id,
                kind: kind,
                workerID: worker,
                requesterKind: rk,
                requesterID: rid,
                requesterAgencyID: ragency,
                grounds: grounds,
                statement: statement,
                state: CaseState(rawValue: state) ?? .closed,
                outcome: outcome.flatMap(CaseOutcome.init(rawValue:)),
                proposedOutcome: proposed.flatMap(CaseOutcome.init(rawValue:)),
                proposedBy: proposedBy,
                decidedBy: decidedBy,
                noticeEndsAt: notice,
                objection: objection,
                relatedCaseID: related,
                createdAt: created,
                updatedAt: updated
            )
        }
        return nil
    }

    /// Engagements of an employer with a worker that were confirmed (or have ended since).
    public static func confirmedEngagements(employerID: UUID, workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        for try await n in try await connection.query(
            """
            SELECT count(*)::int FROM engagements WHERE employer_id = \(employerID) AND worker_id = \(workerID) AND status IN ('confirmed', 'ended')
            """,
            logger: logger
        ).decode(Int.self) { return n }
        return 0
    }

    /// Every agency that ever held the worker (a conflict of interest for their staff).
    public static func agenciesThatHeld(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var agencies: [UUID] = []
        for try await a in try await connection.query("SELECT DISTINCT agency_id FROM tenures WHERE worker_id = \(workerID)", logger: logger)
            .decode(UUID.self)
        { agencies.append(a) }
        return agencies
    }

    /// Writes a step's new state (and the fields the step set) to the case row.
    public static func saveStep(_ row: Row, command: String, reviewer: UUID?, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE cases SET state = \(row.state.rawValue), updated_at = now(), version = version + 1,
                proposed_outcome = \(row.proposedOutcome?.rawValue), proposed_by = \(row.proposedBy), outcome = \(row.outcome?.rawValue),
                decided_by = \(row.decidedBy), notice_ends_at = \(row.noticeEndsAt), objection = \(row.objection),
                objection_at = CASE WHEN \(command) = 'object' THEN now() ELSE objection_at END,
                objection_reviewer = CASE WHEN \(command) IN ('uphold_objection', 'reject_objection') THEN \(reviewer) ELSE objection_reviewer END
            WHERE id = \(row.id)
            """,
            logger: logger
        )
    }

    public static func appendEvent(
        _ caseID: UUID,
        actorKind: String,
        actorID: UUID?,
        command: String,
        from: String,
        to: String,
        reason: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO case_events (case_id, actor_kind, actor_id, command, from_state, to_state, reason)
            VALUES (\(caseID), \(actorKind), \(actorID), \(command), \(from), \(to), \(reason))
            """,
            logger: logger
        )
    }

    public static func events(_ caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Event] {
        var events: [Event] = []
        for try await (command, from, to, kind, reason, at) in try await connection.query(
            """
            SELECT command, from_state, to_state, actor_kind, reason, occurred_at FROM case_events WHERE case_id = \(caseID) ORDER BY id
            """,
            logger: logger
        ).decode((String, String, String, String, String, Date).self) {
            events.append(Event(command: command, fromState: from, toState: to, actorKind: kind, reason: reason, occurredAt: at))
        }
        return events
    }

    /// Notice periods that ended, and final cases: the next to execute, claimed (SKIP LOCKED).
    public static func claimDue(now: Date, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await connection.query(
            """
            SELECT id FROM cases WHERE (state = 'notice_period' AND notice_ends_at <= \(now)) OR state = 'final'
            ORDER BY updated_at LIMIT 100 FOR UPDATE SKIP LOCKED
            """,
            logger: logger
        ).decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// The administrators' queue: open cases by state, oldest first.
    public static func queue(on connection: PostgresConnection, logger: Logger) async throws -> [QueueRow] {
        var items: [QueueRow] = []
        for try await (id, kind, worker, grounds, state, created, updated) in try await connection.query(
            """
            SELECT id, kind, worker_id, grounds, state, created_at, updated_at FROM cases
            WHERE state NOT IN ('executed', 'withdrawn', 'closed') ORDER BY state, created_at LIMIT 500
            """,
            logger: logger
        ).decode((UUID, String, UUID, String, String, Date, Date).self) {
            items.append(QueueRow(id: id, kind: kind, workerID: worker, grounds: grounds, state: state, createdAt: created, updatedAt: updated))
        }
        return items
    }

    /// The ids of the newest cases (at most 20) about a worker or filed by a requester.
    public static func recentIDs(workerID: UUID?, requesterID: UUID?, database: Database, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await database.query(
            """
            SELECT id FROM cases
            WHERE (\(workerID)::uuid IS NULL OR worker_id = \(workerID)) AND (\(requesterID)::uuid IS NULL OR requester_id = \(requesterID))
            ORDER BY created_at DESC LIMIT 20
            """,
            logger: logger
        ).decode(UUID.self) { ids.append(id) }
        return ids
    }

    // MARK: Suspension and ban

    /// An interim suspension for the case, unless one is in force; the worker's status follows.
    /// False when one was already in force.
    public static func suspend(_ row: Row, reason: String, by admin: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO suspensions (worker_id, case_id, reason, decided_by)
            SELECT \(row.workerID), \(row.id), \(reason), \(admin)
            WHERE NOT EXISTS (SELECT 1 FROM suspensions WHERE case_id = \(row.id) AND lifted_at IS NULL) RETURNING id
            """,
            logger: logger
        )
        var created = false
        for try await _ in rows.decode(UUID.self) { created = true }
        guard created else { return false }
        try await connection.query("UPDATE workers SET status = 'suspended' WHERE id = \(row.workerID) AND status = 'active'", logger: logger)
        return true
    }

    /// The one way a case's suspensions are lifted: every one in force, with the reason (and the
    /// administrator, when one decided it); the worker is active again when no other suspension
    /// holds her. True when one was in force.
    @discardableResult
    public static func liftSuspensions(
        _ row: Row,
        reason: String,
        by admin: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> Bool
    {
        let rows = try await connection.query(
            """
            UPDATE suspensions SET lifted_at = now(), lifted_by = coalesce(\(admin), lifted_by), lift_reason = \(reason)
            WHERE case_id = \(row.id) AND lifted_at IS NULL RETURNING id
            """,
            logger: logger
        )
        var lifted = false
        for try await _ in rows.decode(UUID.self) { lifted = true }
        try await connection.query(
            """
            UPDATE workers SET status = 'active' WHERE id = \(row.workerID) AND status = 'suspended'
              AND NOT EXISTS (SELECT 1 FROM suspensions WHERE worker_id = \(row.workerID) AND lifted_at IS NULL)
            """,
            logger: logger
        )
        return lifted
    }

    /// The ban a revocation case ends in: the ban row, and the worker revoked and unlisted.
    public static func ban(_ row: Row, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO bans (worker_id, case_id) VALUES (\(row.workerID), \(row.id)) ON CONFLICT DO NOTHING
            """,
            logger: logger
        )
        try await connection.query(
            "UPDATE workers SET status = 'revoked', available_for_hire = false WHERE id = \(row.workerID)",
            logger: logger
        )
    }

    /// A reinstatement case lifts the ban of the case it reverses; the worker is active again.
    public static func liftBan(of bannedCase: UUID, by row: Row, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE bans SET lifted_at = now(), lifted_by_case_id = \(row.id) WHERE case_id = \(bannedCase) AND lifted_at IS NULL
            """,
            logger: logger
        )
        try await connection.query(
            "UPDATE workers SET status = 'active' WHERE id = \(row.workerID) AND status = 'revoked'",
            logger: logger
        )
    }

    // MARK: Evidence

    public static func evidenceCount(_ caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        for try await n in try await connection.query("SELECT count(*)::int FROM evidence WHERE case_id = \(caseID)", logger: logger)
            .decode(Int.self)
        { return n }
        return 0
    }

    public static func evidenceFilenames(_ caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var names: [String] = []
        for try await name in try await connection.query(
            "SELECT filename FROM evidence WHERE case_id = \(caseID) ORDER BY uploaded_at",
            logger: logger
        ).decode(String.self) { names.append(name) }
        return names
    }

    /// Stores a file content-addressed (the blob once per hash) and records it on the case.
    public static func addEvidence(
        _ caseID: UUID,
        sha256 digest: Data,
        bytes: Data,
        filename: String,
        contentType: String,
        description: String?,
        uploadedBy: UUID?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Evidence {
        try await connection.query(
            """
            INSERT INTO evidence_blobs (sha256, content, size_bytes) VALUES (\(digest), \(bytes), \(Int32(bytes.count)))
            ON CONFLICT (sha256) DO NOTHING
            """,
            logger: logger
        )
        for try await (id, at) in try await connection.query(
            """
            INSERT INTO evidence (case_id, sha256, filename, content_type, size_bytes, description, uploaded_by)
            VALUES (\(caseID), \(digest), \(filename), \(contentType), \(Int32(bytes.count)), \(description), \(uploadedBy)) RETURNING id, uploaded_at
            """,
            logger: logger
        ).decode((UUID, Date).self) {
            return Evidence(
                id: id,
                filename: filename,
                contentType: contentType,
                sizeBytes: bytes.count,
                sha256: digest,
                description: description,
                uploadedAt: at
            )
        }
        throw RegistryError(.unavailable, code: "insert_failed", message: "The file was not stored.")
    }

    public static func evidence(ofCase caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Evidence] {
        var items: [Evidence] = []
        for try await (id, name, type, size, hash, description, at) in try await connection.query(
            """
            SELECT id, filename, content_type, size_bytes, sha256, description, uploaded_at FROM evidence WHERE case_id = \(caseID) ORDER BY uploaded_at
            """,
            logger: logger
        ).decode((UUID, String, String, Int32, Data, String?, Date).self) {
            items.append(
                Evidence(id: id, filename: name, contentType: type, sizeBytes: Int(size), sha256: hash, description: description, uploadedAt: at)
            )
        }
        return items
    }

    /// One evidence file with its content and stored hash, and the case it belongs to.
    public static func evidenceFile(
        _ id: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> (caseID: UUID, filename: String, contentType: String, sha256: Data, content: Data)?
    {
        for try await (caseID, name, type, hash, content) in try await connection.query(
            """
            SELECT e.case_id, e.filename, e.content_type, b.sha256, b.content FROM evidence e JOIN evidence_blobs b ON b.sha256 = e.sha256
            WHERE e.id = \(id)
            """,
            logger: logger
        ).decode((UUID, String, String, Data, Data).self) {
            return (caseID, name, type, hash, content)
        }
        return nil
    }
}
