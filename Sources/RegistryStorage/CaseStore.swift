import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Revocation and reinstatement cases: the case row, its events, evidence, suspensions and bans.
public enum CaseStore {
    /// A case as stored. The workflow's part is read and written by the service through the
    /// pure `CaseMachine`; nothing else writes it.
    public struct Row: Sendable {
        public var id: UUID
        public var kind: String
        public var workerID: UUID
        public var requesterKind: String
        public var requesterID: UUID?
        public var requesterAgencyID: UUID?
        public var originFlagID: UUID?
        public var grounds: String
        public var statement: String
        public var state: CaseState
        public var outcome: CaseOutcome?
        public var proposedOutcome: CaseOutcome?
        public var proposedBy: UUID?
        public var decidedBy: UUID?
        public var noticeEndsAt: Date?
        public var objection: String?
        public var objectionAt: Date?
        public var objectionChannel: String?
        public var objectionEnteredBy: UUID?
        public var objectionEvidenceID: UUID?
        public var objectionOutcome: CaseOutcome?
        public var objectionReviewer: UUID?
        public var executedAt: Date?
        public var appeal: String?
        public var appealAt: Date?
        public var appealChannel: String?
        public var appealEnteredBy: UUID?
        public var appealEvidenceID: UUID?
        public var appealOutcome: CaseOutcome?
        public var appealDecidedBy: UUID?
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
        public var party: String
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

    static let columns = """
        id, kind, worker_id, requester_kind, requester_id, requester_agency_id, origin_flag_id, grounds, statement, state, outcome,
        proposed_outcome, proposed_by, decided_by, notice_ends_at, objection, objection_at, objection_channel, objection_entered_by,
        objection_evidence_id, objection_outcome, objection_reviewer, executed_at, appeal, appeal_at, appeal_channel, appeal_entered_by,
        appeal_evidence_id, appeal_outcome, appeal_decided_by, related_case_id, created_at, updated_at
        """

    public static func load(_ id: UUID, lock: Bool, on connection: PostgresConnection, logger: Logger) async throws -> Row? {
        let rows =
            lock
            ? try await connection.query("SELECT \(unescaped: columns) FROM cases WHERE id = \(id) FOR UPDATE", logger: logger)
            : try await connection.query("SELECT \(unescaped: columns) FROM cases WHERE id = \(id)", logger: logger)
        for try await row in rows {
            let r = row.makeRandomAccess()
            func outcome(_ name: String) throws -> CaseOutcome? { try r[name].decode(String?.self).flatMap(CaseOutcome.init(rawValue:)) }
            return Row(
                id: try r["id"].decode(UUID.self),
                kind: try r["kind"].decode(String.self),
                workerID: try r["worker_id"].decode(UUID.self),
                requesterKind: try r["requester_kind"].decode(String.self),
                requesterID: try r["requester_id"].decode(UUID?.self),
                requesterAgencyID: try r["requester_agency_id"].decode(UUID?.self),
                originFlagID: try r["origin_flag_id"].decode(UUID?.self),
                grounds: try r["grounds"].decode(String.self),
                statement: try r["statement"].decode(String.self),
                state: CaseState(rawValue: try r["state"].decode(String.self)) ?? .closed,
                outcome: try outcome("outcome"),
                proposedOutcome: try outcome("proposed_outcome"),
                proposedBy: try r["proposed_by"].decode(UUID?.self),
                decidedBy: try r["decided_by"].decode(UUID?.self),
                noticeEndsAt: try r["notice_ends_at"].decode(Date?.self),
                objection: try r["objection"].decode(String?.self),
                objectionAt: try r["objection_at"].decode(Date?.self),
                objectionChannel: try r["objection_channel"].decode(String?.self),
                objectionEnteredBy: try r["objection_entered_by"].decode(UUID?.self),
                objectionEvidenceID: try r["objection_evidence_id"].decode(UUID?.self),
                objectionOutcome: try outcome("objection_outcome"),
                objectionReviewer: try r["objection_reviewer"].decode(UUID?.self),
                executedAt: try r["executed_at"].decode(Date?.self),
                appeal: try r["appeal"].decode(String?.self),
                appealAt: try r["appeal_at"].decode(Date?.self),
                appealChannel: try r["appeal_channel"].decode(String?.self),
                appealEnteredBy: try r["appeal_entered_by"].decode(UUID?.self),
                appealEvidenceID: try r["appeal_evidence_id"].decode(UUID?.self),
                appealOutcome: try outcome("appeal_outcome"),
                appealDecidedBy: try r["appeal_decided_by"].decode(UUID?.self),
                relatedCaseID: try r["related_case_id"].decode(UUID?.self),
                createdAt: try r["created_at"].decode(Date.self),
                updatedAt: try r["updated_at"].decode(Date.self)
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

    /// Writes the workflow's part of the case after a transition: its state and every field a
    /// step may set.
    public static func saveWorkflow(_ row: Row, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE cases SET state = \(row.state.rawValue), updated_at = now(), version = version + 1,
                proposed_outcome = \(row.proposedOutcome?.rawValue), proposed_by = \(row.proposedBy), outcome = \(row.outcome?.rawValue),
                decided_by = \(row.decidedBy), notice_ends_at = \(row.noticeEndsAt),
                objection = \(row.objection), objection_at = \(row.objectionAt),
                objection_channel = \(row.objectionChannel), objection_entered_by = \(row.objectionEnteredBy),
                objection_evidence_id = \(row.objectionEvidenceID), objection_outcome = \(row.objectionOutcome?.rawValue),
                objection_reviewer = \(row.objectionReviewer),
                executed_at = \(row.executedAt), appeal = \(row.appeal), appeal_at = \(row.appealAt),
                appeal_channel = \(row.appealChannel), appeal_entered_by = \(row.appealEnteredBy), appeal_evidence_id = \(row.appealEvidenceID),
                appeal_outcome = \(row.appealOutcome?.rawValue), appeal_decided_by = \(row.appealDecidedBy)
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

    /// Cases whose notice window has ended, with no objection or with the objection reviewed and
    /// not upheld: the next to make final and execute, claimed (SKIP LOCKED).
    public static func claimDue(now: Date, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await connection.query(
            """
            SELECT id FROM cases WHERE state IN ('notice_period', 'final') AND notice_ends_at <= \(now)
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
            WHERE state NOT IN ('executed', 'reversed', 'withdrawn', 'closed') ORDER BY state, created_at LIMIT 500
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

    // MARK: Evidence

    /// Whose side a file is on: recorded since migration 0016; before it, from who uploaded it.
    static let partyOf = """
        coalesce(e.party, CASE WHEN e.uploaded_by = c.requester_id THEN 'requester'
                               WHEN e.uploaded_by IN (SELECT u.id FROM users u WHERE u.worker_id = c.worker_id) THEN 'worker'
                               ELSE 'registry' END)
        """

    /// Files one party has added to the case: each party's quota counts alone.
    public static func evidenceCount(_ caseID: UUID, party: String, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        for try await n in try await connection.query(
            """
            SELECT count(*)::int FROM evidence e JOIN cases c ON c.id = e.case_id
            WHERE e.case_id = \(caseID) AND \(unescaped: partyOf) = \(party)
            """,
            logger: logger
        ).decode(Int.self) { return n }
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

    /// A file's content, once per SHA-256, shared by case evidence and repair proofs; never changed.
    public static func storeBlob(_ digest: Data, _ bytes: Data, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO evidence_blobs (sha256, content, size_bytes) VALUES (\(digest), \(bytes), \(Int32(bytes.count)))
            ON CONFLICT (sha256) DO NOTHING
            """,
            logger: logger
        )
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
        party: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Evidence {
        try await storeBlob(digest, bytes, on: connection, logger: logger)
        for try await (id, at) in try await connection.query(
            """
            INSERT INTO evidence (case_id, sha256, filename, content_type, size_bytes, description, uploaded_by, party)
            VALUES (\(caseID), \(digest), \(filename), \(contentType), \(Int32(bytes.count)), \(description), \(uploadedBy), \(party))
            RETURNING id, uploaded_at
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
                party: party,
                uploadedAt: at
            )
        }
        throw RegistryError(.unavailable, code: "insert_failed", message: "The file was not stored.")
    }

    public static func evidence(ofCase caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Evidence] {
        var items: [Evidence] = []
        for try await (id, name, type, size, hash, description, party, at) in try await connection.query(
            """
            SELECT e.id, e.filename, e.content_type, e.size_bytes, e.sha256, e.description, \(unescaped: partyOf), e.uploaded_at
            FROM evidence e JOIN cases c ON c.id = e.case_id WHERE e.case_id = \(caseID) ORDER BY e.uploaded_at, e.id
            """,
            logger: logger
        ).decode((UUID, String, String, Int32, Data, String?, String, Date).self) {
            items.append(
                Evidence(
                    id: id,
                    filename: name,
                    contentType: type,
                    sizeBytes: Int(size),
                    sha256: hash,
                    description: description,
                    party: party,
                    uploadedAt: at
                )
            )
        }
        return items
    }

    public struct Answer: Sendable {
        public var evidenceID: UUID
        public var party: String
        public var body: String
        public var answeredAt: Date
    }

    /// A party's answer to a file of the case.
    public static func addAnswer(
        caseID: UUID,
        evidenceID: UUID,
        party: String,
        body: String,
        by user: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO evidence_answers (evidence_id, case_id, party, body, answered_by)
            VALUES (\(evidenceID), \(caseID), \(party), \(body), \(user))
            """,
            logger: logger
        )
    }

    public static func answers(ofCase caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Answer] {
        var items: [Answer] = []
        for try await (evidence, party, body, at) in try await connection.query(
            "SELECT evidence_id, party, body, answered_at FROM evidence_answers WHERE case_id = \(caseID) ORDER BY answered_at, id",
            logger: logger
        ).decode((UUID, String, String, Date).self) {
            items.append(Answer(evidenceID: evidence, party: party, body: body, answeredAt: at))
        }
        return items
    }

    /// The open reinstatement request for a banned case, if any.
    public static func openReinstatement(of bannedCase: UUID, on connection: PostgresConnection, logger: Logger) async throws -> UUID? {
        for try await id in try await connection.query(
            """
            SELECT id FROM cases WHERE related_case_id = \(bannedCase) AND kind = 'reinstatement'
              AND state NOT IN ('executed', 'reversed', 'withdrawn', 'closed')
            """,
            logger: logger
        ).decode(UUID.self) { return id }
        return nil
    }

    // MARK: Recusal

    /// Administrators who took a step in this case (a filing, a step, an entry on her behalf).
    public static func participants(_ caseID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Set<UUID> {
        var ids: Set<UUID> = []
        for try await id in try await connection.query(
            """
            SELECT DISTINCT e.actor_id FROM case_events e JOIN users u ON u.id = e.actor_id
            WHERE e.case_id = \(caseID) AND u.role = 'admin'
            """,
            logger: logger
        ).decode(UUID.self) { ids.insert(id) }
        return ids
    }

    /// The ties in force that touch this case: to its worker, to an agency that held her, or to it.
    public static func ties(
        caseID: UUID,
        workerID: UUID,
        agencies: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(admin: UUID, description: String)] {
        var out: [(UUID, String)] = []
        for try await (admin, description) in try await connection.query(
            """
            SELECT admin_id, description FROM admin_ties
            WHERE ended_at IS NULL AND (worker_id = \(workerID) OR case_id = \(caseID) OR agency_id = ANY(\(agencies)::uuid[]))
            ORDER BY declared_at
            """,
            logger: logger
        ).decode((UUID, String).self) { out.append((admin, description)) }
        return out
    }

    public struct Tie: Sendable {
        public var id: UUID
        public var adminID: UUID
        public var adminName: String
        public var workerID: UUID?
        public var agencyID: UUID?
        public var caseID: UUID?
        public var description: String
        public var declaredAt: Date
        public var endedAt: Date?
        public var endReason: String?
    }

    public static func declareTie(
        admin: UUID,
        workerID: UUID?,
        agencyID: UUID?,
        caseID: UUID?,
        description: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        for try await id in try await connection.query(
            """
            INSERT INTO admin_ties (admin_id, worker_id, agency_id, case_id, description)
            VALUES (\(admin), \(workerID), \(agencyID), \(caseID), \(description)) RETURNING id
            """,
            logger: logger
        ).decode(UUID.self) { return id }
        throw RegistryError(.unavailable, code: "insert_failed", message: "The tie was not recorded.")
    }

    /// Ends one of the administrator's own ties; false when there is no such tie in force.
    public static func endTie(_ id: UUID, admin: UUID, reason: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        var ended = false
        for try await _ in try await connection.query(
            """
            UPDATE admin_ties SET ended_at = now(), end_reason = \(reason) WHERE id = \(id) AND admin_id = \(admin) AND ended_at IS NULL
            RETURNING id
            """,
            logger: logger
        ).decode(UUID.self) { ended = true }
        return ended
    }

    /// Every tie (in force and ended), newest first; one administrator's when `admin` is given.
    public static func listTies(admin: UUID?, on connection: PostgresConnection, logger: Logger) async throws -> [Tie] {
        var out: [Tie] = []
        for try await (id, adminID, name, worker, agency, caseID, description, declared, ended, reason) in try await connection.query(
            """
            SELECT t.id, t.admin_id, u.display_name, t.worker_id, t.agency_id, t.case_id, t.description, t.declared_at, t.ended_at, t.end_reason
            FROM admin_ties t JOIN users u ON u.id = t.admin_id
            WHERE \(admin)::uuid IS NULL OR t.admin_id = \(admin)
            ORDER BY t.declared_at DESC LIMIT 500
            """,
            logger: logger
        ).decode((UUID, UUID, String, UUID?, UUID?, UUID?, String, Date, Date?, String?).self) {
            out.append(
                Tie(
                    id: id,
                    adminID: adminID,
                    adminName: name,
                    workerID: worker,
                    agencyID: agency,
                    caseID: caseID,
                    description: description,
                    declaredAt: declared,
                    endedAt: ended,
                    endReason: reason
                )
            )
        }
        return out
    }

    /// The display names of these users (who entered an objection or appeal for her).
    public static func userNames(_ ids: [UUID], on connection: PostgresConnection, logger: Logger) async throws -> [UUID: String] {
        guard !ids.isEmpty else { return [:] }
        var names: [UUID: String] = [:]
        for try await (id, name) in try await connection.query(
            "SELECT id, display_name FROM users WHERE id = ANY(\(ids)::uuid[])",
            logger: logger
        ).decode((UUID, String).self) { names[id] = name }
        return names
    }

    /// The active administrators, by name: whom the case page lists as excluded or free to act.
    public static func administrators(on connection: PostgresConnection, logger: Logger) async throws -> [(id: UUID, name: String)] {
        var out: [(UUID, String)] = []
        for try await (id, name) in try await connection.query(
            "SELECT id, display_name FROM users WHERE role = 'admin' AND status = 'active' ORDER BY display_name, id LIMIT 200",
            logger: logger
        ).decode((UUID, String).self) { out.append((id, name)) }
        return out
    }

    /// Open cases opened by the system because of these flags.
    public static func openCases(originFlags: [UUID], on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await connection.query(
            """
            SELECT id FROM cases WHERE origin_flag_id = ANY(\(originFlags)::uuid[])
              AND state NOT IN ('executed', 'appeal_review', 'reversed', 'withdrawn', 'closed')
            """,
            logger: logger
        ).decode(UUID.self) { ids.append(id) }
        return ids
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
