import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// The audit log as administrators read it: pages of entries, the names of their actors, and the
/// chain verified against the checkpoints kept outside the database.
public struct AuditService: Sendable {
    let database: Database
    let keys: KeyRing
    let clock: RegistryClock
    /// The checkpoints file, in the checkpoint folder (`REGISTRY_CHECKPOINT_DIR`).
    public let checkpointsFile: String

    init(database: Database, keys: KeyRing, clock: RegistryClock, checkpointsFile: String) {
        self.database = database
        self.keys = keys
        self.clock = clock
        self.checkpointsFile = checkpointsFile
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
        /// HMAC-SHA256 (hex) of `seq|hash|takenAt` under the checkpoint key (nil on checkpoints
        /// taken before they were signed).
        public var signature: String?

        init(_ row: AuditStore.Head) {
            seq = row.seq
            hash = row.hash
            takenAt = row.takenAt
            signature = row.signature
        }

        var row: AuditStore.Head { AuditStore.Head(seq: seq, hash: hash, takenAt: takenAt, signature: signature) }
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
        try await verifyChain(checkpoints: savedCheckpoints(), logger: logger).result
    }

    /// As `verify`, against the given checkpoints and the newest one in the database: each signed
    /// checkpoint's signature must verify under this registry's key, and each must lie on the
    /// chain. Returns the newest checkpoint the chain was checked against (nil: none).
    public func verifyChain(checkpoints: [Head], logger: Logger) async throws -> (result: ChainVerification, checkpoint: Head?) {
        try await AuditStore.integrateAll(database: database, logger: logger)
        var all = checkpoints
        if let newest = try await AuditStore.newestCheckpoint(database: database, logger: logger) {
            all.append(Head(newest))
        }
        for checkpoint in all where !isAuthentic(checkpoint) {
            return (
                .broken(
                    seq: checkpoint.seq,
                    eventID: 0,
                    reason: "the checkpoint's signature does not verify: it was altered, or signed under other keys"
                ), nil
            )
        }
        let (result, checked) = try await AuditStore.verifyChain(database: database, checkpoints: all.map(\.row), logger: logger)
        // Named: the newest of the checkpoints given (all of them lie on an intact chain), else the
        // database's own.
        guard case .intact = result else { return (result, checked.map(Head.init)) }
        return (result, checkpoints.max { $0.seq < $1.seq } ?? checked.map(Head.init))
    }

    /// True when the checkpoint carries no signature (taken before checkpoints were signed) or a
    /// signature that this registry's checkpoint key made.
    func isAuthentic(_ checkpoint: Head) -> Bool {
        guard let signature = checkpoint.signature else { return true }
        guard let takenAt = checkpoint.takenAt else { return false }
        return keys.signCheckpoint(seq: checkpoint.seq, hash: checkpoint.hash, takenAt: takenAt).hex == signature.lowercased()
    }

    /// Takes a signed checkpoint of the chain's head on the registry's clock, records it in the
    /// database and, when the head has moved since the last one, appends it to the checkpoints
    /// file (one JSON object per line, owner-only). Returns it, and whether it is new.
    /// With `always` (a checkpoint taken by hand), the file gets the line even when the head has
    /// not moved.
    @discardableResult
    public func takeCheckpoint(always: Bool = false, logger: Logger) async throws -> (head: Head, isNew: Bool) {
        let (head, isNew) = try await AuditStore.checkpoint(
            database: database,
            now: clock.now,
            sign: { [keys] in keys.signCheckpoint(seq: $0, hash: $1, takenAt: $2) },
            logger: logger
        )
        if isNew || always { try append(head) }
        return (Head(head), isNew)
    }

    /// The checkpoints saved in the checkpoints file.
    public func savedCheckpoints() throws -> [Head] {
        guard let data = FileManager.default.contents(atPath: checkpointsFile) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            Head(try JSONDecoder().decode(AuditStore.Head.self, from: Data($0.utf8)))
        }
    }

    private func append(_ head: AuditStore.Head) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = String(decoding: try encoder.encode(head), as: UTF8.self) + "\n"
        let fm = FileManager.default
        try fm.createDirectory(atPath: (checkpointsFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !fm.fileExists(atPath: checkpointsFile) {
            fm.createFile(atPath: checkpointsFile, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: checkpointsFile))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
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
