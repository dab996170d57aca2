import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// The audit log as administrators read it: pages of entries, the names of their actors, and the
/// chain verified against the checkpoints kept outside the database.
public struct AuditService: Sendable {
    let database: Database
    let checkpoints: @Sendable () throws -> [AuditStore.Head]

    init(database: Database, checkpoints: @escaping @Sendable () throws -> [AuditStore.Head]) {
        self.database = database
        self.checkpoints = checkpoints
    }

    /// One event of the log, with its link in the chain once chained.
    public struct Entry: Sendable, Codable, Equatable {
        public var id: Int64
        public var seq: Int64?
        public var occurredAt: Date
        public var actorKind: String
        public var actorID: String?
        public var actorRole: String?
        public var action: String
        public var subjectType: String
        public var subjectID: String?
        public var requestID: String?
        public var details: AuditValue
        public var hash: String?

        enum CodingKeys: String, CodingKey {
            case id, seq, action, details, hash
            case occurredAt = "occurred_at"
            case actorKind = "actor_kind"
            case actorID = "actor_id"
            case actorRole = "actor_role"
            case subjectType = "subject_type"
            case subjectID = "subject_id"
            case requestID = "request_id"
        }

        init(_ row: AuditStore.Entry) {
            id = row.id
            seq = row.seq
            occurredAt = row.occurredAt
            actorKind = row.actorKind
            actorID = row.actorID
            actorRole = row.actorRole
            action = row.action
            subjectType = row.subjectType
            subjectID = row.subjectID
            requestID = row.requestID
            details = row.details
            hash = row.hash
        }
    }

    /// The chain's head at a checkpoint, as saved (one JSON object per line) outside the database.
    public struct Head: Sendable, Equatable, Codable {
        public var seq: Int64
        public var hash: String
        public var takenAt: String?

        init(_ row: AuditStore.Head) {
            seq = row.seq
            hash = row.hash
            takenAt = row.takenAt
        }

        var row: AuditStore.Head { AuditStore.Head(seq: seq, hash: hash, takenAt: takenAt) }
    }

    public func list(
        before: Int64?,
        subjectType: String?,
        subjectID: String?,
        actionPrefix: String? = nil,
        actorID: UUID? = nil,
        limit: Int,
        logger: Logger
    ) async throws -> [Entry] {
        try await AuditStore.list(
            before: before,
            subjectType: subjectType,
            subjectID: subjectID,
            actionPrefix: actionPrefix,
            actorID: actorID,
            limit: limit,
            database: database,
            logger: logger
        ).map(Entry.init)
    }

    /// Links what is queued, then recomputes every hash and link and checks the saved checkpoints.
    public func verify(logger: Logger) async throws -> ChainVerification {
        try await AuditStore.integrateAll(database: database, logger: logger)
        return try await AuditStore.verify(database: database, checkpoints: checkpoints(), logger: logger)
    }

    /// As `verify`, against the given checkpoints, with the newest of them the chain was checked
    /// against (nil: none).
    public func verifyChain(checkpoints: [Head], logger: Logger) async throws -> (result: ChainVerification, checkpoint: Head?) {
        try await AuditStore.integrateAll(database: database, logger: logger)
        let (result, checkpoint) = try await AuditStore.verifyChain(database: database, checkpoints: checkpoints.map(\.row), logger: logger)
        return (result, checkpoint.map(Head.init))
    }

    /// Display names of the users and integration sources that acted in `entries`, by id.
    public func actorNames(_ entries: [Entry], logger: Logger) async throws -> [String: String] {
        func ids(_ kind: String) -> [UUID] {
            Array(Set(entries.filter { $0.actorKind == kind }.compactMap { $0.actorID.flatMap(UUID.init(uuidString:)) }))
        }
        return try await AuditStore.actorNames(users: ids("user"), sources: ids("integration"), database: database, logger: logger)
    }
}

/// The administrators' dashboard numbers.
public struct DashboardService: Sendable {
    let database: Database

    /// The dashboard's counts.
    public struct Numbers: Sendable, Equatable {
        public var casesByState: [String: Int]
        /// Open cases younger than 7 days, 7 to 30 days, older than 30 days.
        public var caseAges: [Int]
        public var grades: [String: Int]
        /// Per source (display name): day (yyyy-MM-dd at `utcOffsetSeconds`) → flags received.
        public var flags: [String: [String: Int]]

        init(_ row: DashboardStore.Numbers) {
            casesByState = row.casesByState
            caseAges = row.caseAges
            grades = row.grades
            flags = row.flags
        }
    }

    public func numbers(now: Date, flagsSince: Date, utcOffsetSeconds: Int, logger: Logger) async throws -> Numbers {
        Numbers(
            try await DashboardStore.numbers(
                closedStates: CaseState.allCases.filter { !$0.isOpen }.map(\.rawValue),
                now: now,
                flagsSince: flagsSince,
                utcOffsetSeconds: utcOffsetSeconds,
                database: database,
                logger: logger
            )
        )
    }
}
