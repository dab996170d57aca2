import Crypto
import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage
import ServiceLifecycle

/// Revocation cases: filing with evidence, the adjudication workflow (every step locked,
/// checked by the pure machine, written to the timeline and the audit log in one transaction),
/// the notice period in working days, objections, execution and reinstatement.
public struct CaseService: Sendable {
    let database: Database
    let clock: RegistryClock
    let policy: RevocationPolicy

    public struct Filing: Sendable, Decodable {
        public var workerId: UUID
        public var grounds: String
        public var statement: String

        public init(workerId: UUID, grounds: String, statement: String) {
            self.workerId = workerId
            self.grounds = grounds
            self.statement = statement
        }

        enum CodingKeys: String, CodingKey {
            case grounds, statement
            case workerId = "worker_id"
        }
    }

    /// An employer who had an engagement with her, or an agency that held her, files a case.
    public func file(_ f: Filing, caller: Caller, logger: Logger) async throws -> CaseID {
        guard policy.grounds[f.grounds] != nil else {
            throw RegistryError.invalid("grounds", "Unknown grounds. Known: \(policy.grounds.keys.sorted().joined(separator: ", ")).")
        }
        let statement = try Input.text(f.statement, field: "statement", max: 10_000)!
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.transaction(logger: logger) { connection in
            guard try await WorkerStore.get(f.workerId, on: connection, logger: logger) != nil else { throw RegistryError.notFound("Worker") }
            let kind: String
            var agency: UUID?
            switch caller.principal.role {
            case .employer:
                let n = try await CaseStore.confirmedEngagements(employerID: user, workerID: f.workerId, on: connection, logger: logger)
                guard n > 0 else {
                    throw RegistryError(
                        .forbidden,
                        code: "no_engagement",
                        message: "Only an employer who engaged her through the registry can file a case."
                    )
                }
                kind = "employer"
            case .agencyStaff:
                let a = try await AgencyAccess.agency(nil, caller: caller, write: true, on: connection, logger: logger)
                guard try await WorkerStore.agencyHeld(f.workerId, agencyID: a.id, on: connection, logger: logger) else {
                    throw RegistryError.notFound("Worker")
                }
                kind = "agency"
                agency = a.id
            default:
                throw RegistryError.forbidden
            }
            guard
                let id = try await CaseStore.create(
                    kind: "revocation",
                    relatedCaseID: nil,
                    workerID: f.workerId,
                    requesterKind: kind,
                    requesterID: user,
                    requesterAgencyID: agency,
                    grounds: f.grounds,
                    statement: statement,
                    policyVersion: "revocation-v\(policy.version)",
                    on: connection,
                    logger: logger
                )
            else {
                throw RegistryError(.unavailable, code: "insert_failed", message: "Not filed.")
            }
            try await AuditStore.append(
                caller.event("case.submitted", "case", id, ["worker": .string(f.workerId.text), "grounds": .string(f.grounds)]),
                on: connection,
                logger: logger
            )
            try await WorkerTexts.send(
                "case_opened",
                to: f.workerId,
                ["grounds": policy.grounds[f.grounds]?.zh ?? f.grounds],
                key: "case-opened-\(id.text)",
                on: connection,
                logger: logger
            )
            return CaseID(id)
        }
    }

    typealias Row = CaseStore.Row

    static func load(_ id: UUID, lock: Bool, on connection: DatabaseConnection, logger: Logger) async throws -> Row? {
        try await CaseStore.load(id, lock: lock, on: connection, logger: logger)
    }

    func facts(_ row: Row, on connection: DatabaseConnection, logger: Logger) async throws -> CaseFacts {
        let agencies = Set(try await CaseStore.agenciesThatHeld(row.workerID, on: connection, logger: logger).map(AgencyID.init))
        return CaseFacts(
            state: row.state,
            proposedOutcome: row.proposedOutcome,
            outcome: row.outcome,
            requesterID: row.requesterID.map(UserID.init),
            proposedBy: row.proposedBy.map(UserID.init),
            decidedBy: row.decidedBy.map(UserID.init),
            workerAgencies: agencies
        )
    }

    /// The end of the notice period: the last of `objection_working_days` working days, at
    /// midnight China time; refused (`calendar_ended`) past the working-day calendar's end.
    public func noticeEnds(from: Date? = nil) throws(RegistryError) -> Date {
        let last = try policy.lastObjectionDay(from: CivilDate.today(from ?? clock.now))
        let midnight = last.adding(days: 1).daysSinceEpoch * 86_400 - 8 * 3600
        return Date(timeIntervalSince1970: TimeInterval(midnight))
    }

    /// One step, with the case row locked.
    func step(
        _ row: inout Row,
        _ command: CaseCommand,
        actor: CaseActor,
        reason: String,
        caller: Caller,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        let facts = try await facts(row, on: connection, logger: logger)
        let to = try CaseMachine.apply(command, facts: facts, by: actor)
        let from = row.state
        row.state = to
        try await CaseStore.saveStep(
            row,
            command: command.rawValue,
            reviewer: actor.userID?.uuid,
            on: connection,
            logger: logger
        )
        try await CaseStore.appendEvent(
            row.id,
            actorKind: actor.kind == .system ? "system" : "user",
            actorID: actor.userID?.uuid,
            command: command.rawValue,
            from: from.rawValue,
            to: to.rawValue,
            reason: reason,
            on: connection,
            logger: logger
        )
        try await AuditStore.append(
            caller.event(
                "case.\(command.rawValue)",
                "case",
                row.id,
                [
                    "from": .string(from.rawValue), "to": .string(to.rawValue), "reason": .string(String(reason.prefix(500))),
                ]
            ),
            on: connection,
            logger: logger
        )
    }

    public struct Command: Sendable, Decodable {
        public var command: String
        public var reason: String
        public var outcome: String?

        public init(command: String, reason: String, outcome: String? = nil) {
            self.command = command
            self.reason = reason
            self.outcome = outcome
        }
    }

    /// A person's step in the workflow. The machine decides legality; fairness rules apply.
    public func act(_ caseID: CaseID, _ c: Command, caller: Caller, logger: Logger) async throws -> View {
        guard let command = CaseCommand(rawValue: c.command) else {
            throw RegistryError.invalid("command", "Unknown command. Commands: \(CaseCommand.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let reason = try Input.text(c.reason, field: "reason", max: 10_000)!
        var outcome: CaseOutcome?
        if command == .proposeDecision {
            guard let o = c.outcome.flatMap(CaseOutcome.init(rawValue:)) else {
                throw RegistryError.invalid("outcome", "Propose upheld or rejected.", code: "missing_field")
            }
            outcome = o
        }
        return try await database.transaction(logger: logger) { connection in
            guard var row = try await Self.load(caseID.uuid, lock: true, on: connection, logger: logger) else { throw RegistryError.notFound("Case") }
            let actor: CaseActor
            switch caller.principal.role {
            case .admin:
                actor = CaseActor(kind: .administrator, userID: caller.principal.userID)
            case .worker where caller.workerUUID == row.workerID:
                actor = CaseActor(kind: .worker, userID: caller.principal.userID)
            case .employer where caller.userUUID != nil && caller.userUUID == row.requesterID,
                .agencyStaff where caller.userUUID != nil && caller.userUUID == row.requesterID:
                actor = CaseActor(kind: .requester, userID: caller.principal.userID, agencyID: caller.principal.agencyID)
            default:
                throw RegistryError.notFound("Case")
            }
            switch command {
            case .proposeDecision:
                row.proposedOutcome = outcome
                row.proposedBy = caller.userUUID
            case .returnForReview:
                row.proposedOutcome = nil
                row.proposedBy = nil
            case .confirmDecision:
                row.outcome = row.proposedOutcome
                row.decidedBy = caller.userUUID
            case .object:
                guard let ends = row.noticeEndsAt, ends > clock.now else {
                    throw RegistryError(.conflict, code: "notice_over", message: "The objection period has ended.")
                }
                row.objection = reason
            default: break
            }
            try await step(&row, command, actor: actor, reason: reason, caller: caller, on: connection, logger: logger)
            // What follows a confirmed decision is the system's, recorded as its own steps.
            if command == .confirmDecision {
                let system = CaseActor(kind: .system, userID: nil)
                if row.outcome == .upheld {
                    row.noticeEndsAt = try noticeEnds()
                    try await step(
                        &row,
                        .startNotice,
                        actor: system,
                        reason: "Decision upheld: the worker is notified and may object until the notice period ends.",
                        caller: .system,
                        on: connection,
                        logger: logger
                    )
                    try await notifyWorker(row, on: connection, logger: logger)
                } else {
                    try await step(
                        &row,
                        .close,
                        actor: system,
                        reason: "Decision: the request is rejected.",
                        caller: .system,
                        on: connection,
                        logger: logger
                    )
                }
            }
            if command == .upholdObjection || command == .withdraw {
                try await liftCaseSuspensions(row, reason: "The case ended without a ban.", on: connection, logger: logger)
            }
            return try await view(caseID.uuid, role: .admin, on: connection, logger: logger)
        }
    }

    func notifyWorker(_ row: Row, on connection: DatabaseConnection, logger: Logger) async throws {
        let evidence = try await CaseStore.evidenceFilenames(row.id, on: connection, logger: logger)
        let lastDay = CivilDate.today((row.noticeEndsAt ?? clock.now).addingTimeInterval(-1)).iso
        try await WorkerTexts.send(
            "case_decision_notice",
            to: row.workerID,
            ["grounds": policy.grounds[row.grounds]?.zh ?? row.grounds, "evidence": evidence.joined(separator: ", "), "last_day": lastDay],
            key: "case-notice-\(row.id.text)-\(lastDay)",
            on: connection,
            logger: logger
        )
    }

    func liftCaseSuspensions(_ row: Row, reason: String, on connection: DatabaseConnection, logger: Logger) async throws {
        try await CaseStore.liftSuspensions(row, reason: reason, by: nil, on: connection, logger: logger)
    }

    /// Interim suspension: a separate recorded decision by an administrator, with its own reason.
    public func suspend(_ caseID: CaseID, reason: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let reason = try Input.text(reason, field: "reason", max: 2000)!
        try await database.transaction(logger: logger) { connection in
            guard let row = try await Self.load(caseID.uuid, lock: true, on: connection, logger: logger), row.state.isOpen else {
                throw RegistryError.notFound("Case")
            }
            guard try await CaseStore.suspend(row, reason: reason, by: admin, on: connection, logger: logger) else {
                throw RegistryError(.conflict, code: "already_suspended", message: "An interim suspension for this case is in force.")
            }
            try await AuditStore.append(
                caller.event("worker.suspended", "worker", row.workerID, ["case": .string(caseID.text), "reason": .string(reason)]),
                on: connection,
                logger: logger
            )
            try await GradeStore.enqueue(row.workerID, reason: "suspension", on: connection, logger: logger)
        }
    }

    public func liftSuspension(_ caseID: CaseID, reason: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let reason = try Input.text(reason, field: "reason", max: 2000)!
        try await database.transaction(logger: logger) { connection in
            guard let row = try await Self.load(caseID.uuid, lock: true, on: connection, logger: logger) else { throw RegistryError.notFound("Case") }
            guard try await CaseStore.liftSuspensions(row, reason: reason, by: admin, on: connection, logger: logger) else {
                throw RegistryError(.conflict, code: "not_suspended", message: "No interim suspension of this case is in force.")
            }
            try await AuditStore.append(
                caller.event("worker.suspension_lifted", "worker", row.workerID, ["case": .string(caseID.text), "reason": .string(reason)]),
                on: connection,
                logger: logger
            )
            try await GradeStore.enqueue(row.workerID, reason: "suspension", on: connection, logger: logger)
        }
    }

    /// The system's side: notice periods that ended become final, final cases are executed (a ban,
    /// or for a reinstatement case the ban lifted). SKIP LOCKED and idempotent.
    @discardableResult
    public func executeDue(now: Date? = nil, logger: Logger) async throws -> Int {
        let now = now ?? clock.now
        return try await database.transaction(logger: logger) { connection in
            let ids = try await CaseStore.claimDue(now: now, on: connection, logger: logger)
            let system = CaseActor(kind: .system, userID: nil)
            for id in ids {
                guard var row = try await Self.load(id, lock: true, on: connection, logger: logger) else { continue }
                if row.state == .noticePeriod {
                    try await step(
                        &row,
                        .finalize,
                        actor: system,
                        reason: "The notice period ended without an objection.",
                        caller: .system,
                        on: connection,
                        logger: logger
                    )
                }
                guard row.state == .final else { continue }
                try await step(
                    &row,
                    .execute,
                    actor: system,
                    reason: row.kind == "reinstatement" ? "Reinstated: the ban is lifted." : "Executed: the worker is barred from practice.",
                    caller: .system,
                    on: connection,
                    logger: logger
                )
                if row.kind == "reinstatement", let banned = row.relatedCaseID {
                    try await CaseStore.liftBan(of: banned, by: row, on: connection, logger: logger)
                    try await AuditStore.append(
                        Caller.system.event("worker.reinstated", "worker", row.workerID, ["case": .string(row.id.text)]),
                        on: connection,
                        logger: logger
                    )
                    try await WorkerTexts.send(
                        "case_reinstated",
                        to: row.workerID,
                        [:],
                        key: "case-executed-\(row.id.text)",
                        on: connection,
                        logger: logger
                    )
                } else {
                    try await CaseStore.ban(row, on: connection, logger: logger)
                    try await liftCaseSuspensions(row, reason: "Superseded by the ban.", on: connection, logger: logger)
                    try await AuditStore.append(
                        Caller.system.event("worker.barred", "worker", row.workerID, ["case": .string(row.id.text)]),
                        on: connection,
                        logger: logger
                    )
                    try await WorkerTexts.send(
                        "case_executed",
                        to: row.workerID,
                        ["grounds": policy.grounds[row.grounds]?.zh ?? row.grounds, "date": CivilDate.today(now).iso],
                        key: "case-executed-\(row.id.text)",
                        on: connection,
                        logger: logger
                    )
                }
                try await GradeStore.enqueue(
                    row.workerID,
                    reason: row.kind == "reinstatement" ? "reinstated" : "barred",
                    on: connection,
                    logger: logger
                )
            }
            return ids.count
        }
    }

    /// An administrator records a reinstatement request (appeal, court order, later evidence): a
    /// case of its own, through the same workflow, that ends by lifting the ban.
    public func fileReinstatement(bannedCase: CaseID, statement: String, caller: Caller, logger: Logger) async throws -> CaseID {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let statement = try Input.text(statement, field: "statement", max: 10_000)!
        return try await database.transaction(logger: logger) { connection in
            guard let banned = try await Self.load(bannedCase.uuid, lock: true, on: connection, logger: logger), banned.state == .executed,
                banned.kind == "revocation"
            else { throw RegistryError(.conflict, code: "not_executed", message: "Only an executed revocation can be reversed.") }
            guard
                let id = try await CaseStore.create(
                    kind: "reinstatement",
                    relatedCaseID: bannedCase.uuid,
                    workerID: banned.workerID,
                    requesterKind: "system",
                    requesterID: admin,
                    requesterAgencyID: nil,
                    grounds: banned.grounds,
                    statement: statement,
                    policyVersion: "revocation-v\(policy.version)",
                    on: connection,
                    logger: logger
                )
            else {
                throw RegistryError(.unavailable, code: "insert_failed", message: "Not filed.")
            }
            try await AuditStore.append(
                caller.event("case.reinstatement_submitted", "case", id, ["banned_case": .string(bannedCase.text)]),
                on: connection,
                logger: logger
            )
            return CaseID(id)
        }
    }

    // MARK: Evidence

    public struct EvidenceItem: Sendable, Codable {
        public var id: String
        public var filename: String
        public var contentType: String
        public var sizeBytes: Int
        public var sha256: String
        public var description: String?
        public var uploadedAt: Date

        init(_ e: CaseStore.Evidence) {
            self.init(
                id: e.id.text,
                filename: e.filename,
                contentType: e.contentType,
                sizeBytes: e.sizeBytes,
                sha256: e.sha256.hex,
                description: e.description,
                uploadedAt: e.uploadedAt
            )
        }

        init(id: String, filename: String, contentType: String, sizeBytes: Int, sha256: String, description: String?, uploadedAt: Date) {
            self.id = id
            self.filename = filename
            self.contentType = contentType
            self.sizeBytes = sizeBytes
            self.sha256 = sha256
            self.description = description
            self.uploadedAt = uploadedAt
        }
    }

    static func sniff(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if bytes.starts(with: Array("%PDF-".utf8)) { return "application/pdf" }
        return nil
    }

    /// Whether `caller` may add a file of `contentType` to this case now: checked before a byte of
    /// the upload is read, so that nobody but a party of an open case with room left can make the
    /// registry receive, hash and store megabytes.
    public func mayAddEvidence(_ caseID: CaseID, contentType: String, declaredLength: Int?, caller: Caller, logger: Logger) async throws {
        // Who asks comes first: to anyone but a party, the case does not exist, whatever the upload.
        try await database.withConnection { connection in
            guard let row = try await Self.load(caseID.uuid, lock: false, on: connection, logger: logger), row.state.isOpen,
                Self.mayAdd(caller, to: row)
            else { throw RegistryError.notFound("Case") }
            guard try await CaseStore.evidenceCount(caseID.uuid, on: connection, logger: logger) < policy.evidencePerCase else {
                throw RegistryError(.conflict, code: "evidence_limit", message: "A case holds at most \(policy.evidencePerCase) files.")
            }
        }
        if let declaredLength, declaredLength > policy.evidenceMaxBytes {
            throw RegistryError(
                .tooLarge,
                code: "evidence_too_large",
                message: "Evidence files are at most \(policy.evidenceMaxBytes / 1_048_576) MB."
            )
        }
        if !contentType.isEmpty {
            guard policy.evidenceTypes.contains(Self.mediaType(contentType)) else {
                throw RegistryError(
                    .unsupportedMediaType,
                    code: "evidence_type",
                    message: "Evidence must be one of: \(policy.evidenceTypes.joined(separator: ", "))."
                )
            }
        }
    }

    static func mediaType(_ contentType: String) -> String {
        contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    static func mayAdd(_ caller: Caller, to row: Row) -> Bool {
        caller.principal.role == .admin || (caller.userUUID != nil && caller.userUUID == row.requesterID)
            || (caller.principal.role == .worker && caller.workerUUID == row.workerID)
    }

    /// Adds a file: size and type from policy (the declared type must match the content),
    /// stored content-addressed; never modified or deleted.
    public func addEvidence(
        _ caseID: CaseID,
        filename: String,
        contentType: String,
        bytes: [UInt8],
        description: String?,
        caller: Caller,
        logger: Logger
    ) async throws -> EvidenceItem {
        let upload = EvidenceUpload(content: Data(bytes), sha256: Data(SHA256.hash(data: Data(bytes))))
        return try await addEvidence(
            caseID.uuid,
            filename: filename,
            contentType: contentType,
            upload: upload,
            description: description,
            caller: caller,
            logger: logger
        )
    }

    /// As above, for a file already received and hashed (streamed to disk by `EvidenceSink`).
    public func addEvidence(
        _ caseID: UUID,
        filename: String,
        contentType: String,
        upload: EvidenceUpload,
        description: String?,
        caller: Caller,
        logger: Logger
    ) async throws -> EvidenceItem {
        let bytes = upload.content
        guard bytes.count <= policy.evidenceMaxBytes else {
            throw RegistryError(
                .tooLarge,
                code: "evidence_too_large",
                message: "Evidence files are at most \(policy.evidenceMaxBytes / 1_048_576) MB."
            )
        }
        let declared = Self.mediaType(contentType)
        guard policy.evidenceTypes.contains(declared), Self.sniff(Array(bytes.prefix(16))) == declared else {
            throw RegistryError(
                .unsupportedMediaType,
                code: "evidence_type",
                message: "Evidence must be one of: \(policy.evidenceTypes.joined(separator: ", ")) (and the file must really be one)."
            )
        }
        let name = (filename as NSString).lastPathComponent.trimmingWhitespace()
        guard (1...255).contains(name.count), !name.contains("/"), !name.contains("\\"), !name.hasPrefix("."),
            !name.hasInvisibleCharacters
        else {
            throw RegistryError.invalid("filename", "Give the file a plain name (no control, bidirectional or invisible characters).")
        }
        let description = try Input.text(description, field: "description", max: 2000, required: false)
        let digest = upload.sha256
        return try await database.transaction(logger: logger) { connection in
            guard let row = try await Self.load(caseID, lock: true, on: connection, logger: logger), row.state.isOpen else {
                throw RegistryError.notFound("Case")
            }
            guard Self.mayAdd(caller, to: row) else { throw RegistryError.notFound("Case") }
            guard try await CaseStore.evidenceCount(caseID, on: connection, logger: logger) < policy.evidencePerCase else {
                throw RegistryError(.conflict, code: "evidence_limit", message: "A case holds at most \(policy.evidencePerCase) files.")
            }
            let stored = try await CaseStore.addEvidence(
                caseID,
                sha256: digest,
                bytes: bytes,
                filename: name,
                contentType: declared,
                description: description,
                uploadedBy: caller.userUUID,
                on: connection,
                logger: logger
            )
            let item = EvidenceItem(stored)
            try await AuditStore.append(
                caller.event("case.evidence_added", "case", caseID, ["sha256": .string(digest.hex), "filename": .string(name)]),
                on: connection,
                logger: logger
            )
            return item
        }
    }

    /// The file, its hash verified; only the parties and administrators may download it.
    public func evidence(_ evidenceID: UUID, caller: Caller, logger: Logger) async throws -> (filename: String, contentType: String, bytes: [UInt8]) {
        try await database.withConnection { connection in
            guard let file = try await CaseStore.evidenceFile(evidenceID, on: connection, logger: logger),
                let row = try await Self.load(file.caseID, lock: false, on: connection, logger: logger),
                caller.principal.role == .admin || (caller.userUUID != nil && caller.userUUID == row.requesterID)
                    || (caller.principal.role == .worker && caller.workerUUID == row.workerID)
            else { throw RegistryError.notFound("Evidence") }
            guard Data(SHA256.hash(data: file.content)) == file.sha256 else {
                logger.critical("evidence content does not match its hash", metadata: ["evidence": "\(evidenceID.text)"])
                throw RegistryError(.unavailable, code: "evidence_corrupted", message: "This file failed its integrity check and is withheld.")
            }
            return (file.filename, file.contentType, Array(file.content))
        }
    }

    // MARK: Views

    public struct Event: Sendable, Codable {
        public var command: String
        public var fromState: String
        public var toState: String
        public var actorKind: String
        public var reason: String
        public var occurredAt: Date
    }

    public struct View: Sendable, Encodable {
        public var id: String
        public var kind: String
        public var workerId: String
        public var grounds: String
        public var state: String
        public var outcome: String?
        public var statement: String?
        public var proposedOutcome: String?
        public var noticeEndsAt: Date?
        public var objection: String?
        public var allowed: [String]
        public var evidence: [EvidenceItem]?
        public var timeline: [Event]?
        public var createdAt: Date
    }

    enum Viewer { case admin, requester, worker, agency }

    func view(_ id: UUID, role: Viewer, on connection: DatabaseConnection, logger: Logger) async throws -> View {
        guard let row = try await Self.load(id, lock: false, on: connection, logger: logger) else { throw RegistryError.notFound("Case") }
        let facts = try await facts(row, on: connection, logger: logger)
        let evidence = try await CaseStore.evidence(ofCase: id, on: connection, logger: logger).map(EvidenceItem.init)
        let timeline = try await CaseStore.events(id, on: connection, logger: logger).map {
            Event(
                command: $0.command,
                fromState: $0.fromState,
                toState: $0.toState,
                actorKind: $0.actorKind,
                reason: $0.reason,
                occurredAt: $0.occurredAt
            )
        }
        var v = View(
            id: row.id.text,
            kind: row.kind,
            workerId: row.workerID.text,
            grounds: row.grounds,
            state: row.state.rawValue,
            outcome: row.outcome?.rawValue,
            statement: row.statement,
            proposedOutcome: row.proposedOutcome?.rawValue,
            noticeEndsAt: row.noticeEndsAt,
            objection: row.objection,
            allowed: CaseMachine.allowed(facts).map(\.rawValue),
            evidence: evidence,
            timeline: timeline,
            createdAt: row.createdAt
        )
        switch role {
        case .admin: break
        case .worker: v.proposedOutcome = nil
        case .requester:
            v.proposedOutcome = nil
            v.objection = nil
        case .agency:
            v.statement = nil
            v.proposedOutcome = nil
            v.objection = nil
            v.evidence = nil
            v.timeline = nil
        }
        return v
    }

    /// The newest cases (at most 20) about a worker, or filed by a user: ids only, each read
    /// through `get`, which decides what the caller sees.
    public func recent(aboutWorker workerID: WorkerID, logger: Logger) async throws -> [CaseID] {
        try await CaseStore.recentIDs(workerID: workerID.uuid, requesterID: nil, database: database, logger: logger).map(CaseID.init)
    }

    public func recent(filedBy userID: UserID, logger: Logger) async throws -> [CaseID] {
        try await CaseStore.recentIDs(workerID: nil, requesterID: userID.uuid, database: database, logger: logger).map(CaseID.init)
    }

    /// Who sees what: administrators everything; the requester and the worker the case with its
    /// evidence list and timeline; an agency that held her the outcome.
    public func get(_ id: CaseID, caller: Caller, logger: Logger) async throws -> View {
        try await database.withConnection { connection in
            guard let row = try await Self.load(id.uuid, lock: false, on: connection, logger: logger) else { throw RegistryError.notFound("Case") }
            switch caller.principal.role {
            case .admin: return try await view(id.uuid, role: .admin, on: connection, logger: logger)
            case .worker where caller.workerUUID == row.workerID: return try await view(id.uuid, role: .worker, on: connection, logger: logger)
            case _ where caller.userUUID != nil && caller.userUUID == row.requesterID:
                return try await view(id.uuid, role: .requester, on: connection, logger: logger)
            case .agencyStaff:
                if let agency = caller.agencyUUID, try await WorkerStore.agencyHeld(row.workerID, agencyID: agency, on: connection, logger: logger) {
                    return try await view(id.uuid, role: .agency, on: connection, logger: logger)
                }
            default: break
            }
            throw RegistryError.notFound("Case")
        }
    }

    public struct QueueItem: Sendable, Codable {
        public var id: String
        public var kind: String
        public var workerId: String
        public var grounds: String
        public var state: String
        public var createdAt: Date
        public var updatedAt: Date
        public var ageDays: Int
    }

    /// The administrators' queue: open cases by state, oldest first.
    public func queue(logger: Logger) async throws -> [QueueItem] {
        try await database.withConnection { connection in
            try await CaseStore.queue(on: connection, logger: logger).map {
                QueueItem(
                    id: $0.id.text,
                    kind: $0.kind,
                    workerId: $0.workerID.text,
                    grounds: $0.grounds,
                    state: $0.state,
                    createdAt: $0.createdAt,
                    updatedAt: $0.updatedAt,
                    ageDays: Int(clock.now.timeIntervalSince($0.createdAt) / 86_400)
                )
            }
        }
    }
}
