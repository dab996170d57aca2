import Crypto
import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage
import ServiceLifecycle

/// Revocation and reinstatement cases. Every step locks the case row, gathers the facts about
/// the people around it, asks the pure `CaseMachine` for the decision and persists what it
/// returned — the new state, the timeline, the audit rows, the ban or its lifting, suspensions,
/// what she is told, regrades — in one transaction.
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
                ["grounds": groundsWords(f.grounds)],
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

    func groundsWords(_ grounds: String) -> String { policy.grounds[grounds]?.zh ?? grounds }

    // MARK: The decision

    /// The facts the machine needs about the people around a case.
    func facts(_ row: Row, on connection: DatabaseConnection, logger: Logger) async throws -> CaseFacts {
        let agencies = try await CaseStore.agenciesThatHeld(row.workerID, on: connection, logger: logger)
        var ties: [UserID: [String]] = [:]
        for tie in try await CaseStore.ties(caseID: row.id, workerID: row.workerID, agencies: agencies, on: connection, logger: logger) {
            ties[UserID(tie.admin), default: []].append(tie.description)
        }
        var banned: Set<UserID> = []
        if row.kind == CaseKind.reinstatement.rawValue, let related = row.relatedCaseID {
            banned = Set(try await CaseStore.participants(related, on: connection, logger: logger).map(UserID.init))
        }
        return CaseFacts(
            workerAgencies: Set(agencies.map(AgencyID.init)),
            ties: ties,
            participants: Set(try await CaseStore.participants(row.id, on: connection, logger: logger).map(UserID.init)),
            bannedCaseParticipants: banned,
            // Her letter or her signed consent must be a file on her side of the case.
            evidence: Set(try await CaseStore.evidence(ofCase: row.id, on: connection, logger: logger).filter { $0.party == "worker" }.map(\.id.text))
        )
    }

    /// Who the caller is to this case: an administrator, the worker, the requester, or the staff
    /// of the agency that holds her now (objecting or appealing for her). Nil: no part in it.
    func actor(_ caller: Caller, for row: Row, on connection: DatabaseConnection, logger: Logger) async throws -> CaseActor? {
        switch caller.principal.role {
        case .admin:
            return CaseActor(kind: .administrator, userID: caller.principal.userID, agencyID: caller.principal.agencyID)
        case .worker where caller.workerUUID == row.workerID:
            return CaseActor(kind: .worker, userID: caller.principal.userID)
        case _ where caller.userUUID != nil && caller.userUUID == row.requesterID:
            return CaseActor(kind: .requester, userID: caller.principal.userID, agencyID: caller.principal.agencyID)
        case .agencyStaff:
            guard let agency = caller.agencyUUID, let worker = try await WorkerStore.get(row.workerID, on: connection, logger: logger),
                worker.currentAgencyID == agency
            else { return nil }
            return CaseActor(kind: .custodian, userID: caller.principal.userID, agencyID: caller.principal.agencyID)
        default:
            return nil
        }
    }

    /// Runs the machine on a locked row and persists everything it decided.
    func decide(
        _ row: inout Row,
        _ command: CaseCommand,
        by actor: CaseActor,
        input: CaseInput,
        caller: Caller,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        let facts = try await facts(row, on: connection, logger: logger)
        let (record, events) = try CaseMachine.transition(
            row.record,
            command,
            by: actor,
            input: input,
            facts: facts,
            policy: policy,
            today: clock.today
        )
        try await persist(&row, record, events, caller: caller, on: connection, logger: logger)
    }

    func persist(
        _ row: inout Row,
        _ record: CaseRecord,
        _ events: [CaseEvent],
        now: Date? = nil,
        caller: Caller,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        guard !events.isEmpty else { return }
        row.apply(record, now: now ?? clock.now)
        try await CaseStore.saveWorkflow(row, on: connection, logger: logger)
        for event in events {
            switch event {
            case .step(let command, let from, let to, let actor, let reason):
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
                var details: [String: AuditValue] = [
                    "from": .string(from.rawValue), "to": .string(to.rawValue), "reason": .string(String(reason.prefix(500))),
                ]
                if actor.kind == .custodian || (actor.kind == .administrator && [.object, .appeal].contains(command)) {
                    details["on_behalf_of_worker"] = true
                }
                try await AuditStore.append(
                    (actor.kind == .system ? Caller.system : caller).event("case.\(command.rawValue)", "case", row.id, details),
                    on: connection,
                    logger: logger
                )
            case .tellWorker(let notice):
                try await tell(row, notice, on: connection, logger: logger)
            case .imposeBan:
                try await StandingStore.ban(caseID: row.id, workerID: row.workerID, on: connection, logger: logger)
                try await AuditStore.append(
                    Caller.system.event("worker.barred", "worker", row.workerID, ["case": .string(row.id.text)]),
                    on: connection,
                    logger: logger
                )
                try await published(row.id, row.workerID, "blacklist.published", on: connection, logger: logger)
            case .liftBan:
                let banned = row.kind == CaseKind.reinstatement.rawValue ? row.relatedCaseID ?? row.id : row.id
                try await StandingStore.liftBan(of: banned, workerID: row.workerID, byCase: row.id, on: connection, logger: logger)
                try await AuditStore.append(
                    Caller.system.event("worker.reinstated", "worker", row.workerID, ["case": .string(row.id.text), "ban_of": .string(banned.text)]),
                    on: connection,
                    logger: logger
                )
                // The published blacklist reads the bans in force: she is off it from this commit.
                try await published(banned, row.workerID, "blacklist.removed", on: connection, logger: logger)
            case .liftSuspensions(let reason):
                if try await StandingStore.liftSuspensions(
                    caseID: row.id,
                    workerID: row.workerID,
                    reason: reason,
                    by: nil,
                    on: connection,
                    logger: logger
                ) {
                    try await AuditStore.append(
                        Caller.system.event("worker.suspension_lifted", "worker", row.workerID, ["case": .string(row.id.text), "automatic": true]),
                        on: connection,
                        logger: logger
                    )
                    try await GradeStore.enqueue(row.workerID, reason: "suspension", on: connection, logger: logger)
                }
            case .regrade(let reason):
                try await GradeStore.enqueue(row.workerID, reason: reason, on: connection, logger: logger)
            }
        }
    }

    /// What she is told, once per case and step (the key).
    /// Records that the ban of `caseID` went on (`blacklist.published`) or came off
    /// (`blacklist.removed`) the published blacklist, with the case's public reference.
    func published(_ caseID: UUID, _ workerID: UUID, _ action: String, on connection: DatabaseConnection, logger: Logger) async throws {
        var details: [String: AuditValue] = ["case": .string(caseID.text)]
        if let ref = try await PublicListStore.caseReference(caseID, on: connection, logger: logger) {
            details["reference"] = .string(CaseReference.text(year: ref.year, number: ref.no))
        }
        try await AuditStore.append(Caller.system.event(action, "worker", workerID, details), on: connection, logger: logger)
        // The numbered event other registries pull (GET /api/v1/exchange/bans).
        try await ExchangeStore.record(
            action == "blacklist.published" ? "ban" : "reinstatement",
            workerID: workerID,
            caseID: caseID,
            on: connection,
            logger: logger
        )
    }

    func tell(_ row: Row, _ notice: CaseNotice, on connection: DatabaseConnection, logger: Logger) async throws {
        let grounds = groundsWords(row.grounds)
        let id = row.id.text
        let (kind, parameters, key): (String, [String: String], String)
        switch notice {
        case .decision(let last):
            let evidence = try await CaseStore.evidenceFilenames(row.id, on: connection, logger: logger)
            (kind, parameters, key) = (
                "case_decision_notice", ["grounds": grounds, "evidence": evidence.joined(separator: ", "), "last_day": last.iso],
                "case-notice-\(id)-\(last.iso)"
            )
        case .objectionRejected(let last):
            (kind, parameters, key) = ("case_objection_rejected", ["grounds": grounds, "last_day": last.iso], "case-objection-\(id)")
        case .closed:
            (kind, parameters, key) = ("case_closed", ["grounds": grounds], "case-closed-\(id)")
        case .executed(let on, let until):
            (kind, parameters, key) = (
                "case_executed", ["grounds": grounds, "date": on.iso, "appeal_until": until.iso], "case-executed-\(id)"
            )
        case .reinstated:
            (kind, parameters, key) = ("case_reinstated", [:], "case-executed-\(id)")
        case .reinstatementRefused:
            (kind, parameters, key) = ("case_reinstatement_refused", [:], "case-closed-\(id)")
        case .appealUpheld:
            (kind, parameters, key) = ("case_appeal_upheld", ["grounds": grounds], "case-appeal-\(id)")
        case .appealRejected:
            (kind, parameters, key) = ("case_appeal_rejected", ["grounds": grounds], "case-appeal-\(id)")
        }
        try await WorkerTexts.send(kind, to: row.workerID, parameters, key: key, on: connection, logger: logger)
    }

    /// The end of the notice period: the last of `objection_working_days` working days, at
    /// midnight China time; refused (`calendar_ended`) past the working-day calendar's end.
    public func noticeEnds(from: Date? = nil) throws(RegistryError) -> Date {
        Row.endOf(try policy.lastObjectionDay(from: CivilDate.today(from ?? clock.now)))
    }

    public struct Command: Sendable, Decodable {
        public var command: String
        public var reason: String
        public var outcome: String?
        /// For an objection or appeal an administrator records: `in_person` or `letter`.
        public var channel: String?
        /// The scanned letter, or her signed consent when her agency enters it: a file of the case.
        public var evidenceId: String?

        public init(command: String, reason: String, outcome: String? = nil, channel: String? = nil, evidenceId: String? = nil) {
            self.command = command
            self.reason = reason
            self.outcome = outcome
            self.channel = channel
            self.evidenceId = evidenceId
        }

        enum CodingKeys: String, CodingKey {
            case command, reason, outcome, channel
            case evidenceId = "evidence_id"
        }
    }

    /// A person's step in the workflow; the answer is the case as that person sees it.
    public func act(_ caseID: CaseID, _ c: Command, caller: Caller, logger: Logger) async throws -> View {
        guard let command = CaseCommand(rawValue: c.command) else {
            throw RegistryError.invalid("command", "Unknown command. Commands: \(CaseCommand.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let reason = try Input.text(c.reason, field: "reason", max: 10_000)!
        var outcome: CaseOutcome?
        if let given = c.outcome {
            guard let o = CaseOutcome(rawValue: given) else { throw RegistryError.invalid("outcome", "The outcome is upheld or rejected.") }
            outcome = o
        }
        var channel: SubmissionChannel?
        if let given = c.channel {
            guard let ch = SubmissionChannel(rawValue: given), ch == .inPerson || ch == .letter else {
                throw RegistryError.invalid("channel", "The channel is in_person or letter.")
            }
            channel = ch
        }
        if let e = c.evidenceId, UUID(uuidString: e) == nil { throw RegistryError.invalid("evidence_id", "Name a file of this case by its id.") }
        let input = CaseInput(reason: reason, outcome: outcome, channel: channel, evidenceID: c.evidenceId.map { $0.lowercased() })
        return try await database.transaction(logger: logger) { connection in
            guard var row = try await Self.load(caseID.uuid, lock: true, on: connection, logger: logger),
                let actor = try await actor(caller, for: row, on: connection, logger: logger)
            else { throw RegistryError.notFound("Case") }
            try await decide(&row, command, by: actor, input: input, caller: caller, on: connection, logger: logger)
            return try await view(row, for: actor, on: connection, logger: logger)
        }
    }

    // MARK: Interim suspension

    /// Interim suspension: a separate recorded decision by an administrator, with its own reason,
    /// while the case is undecided or its window runs. Fairness rules apply as to any step.
    public func suspend(_ caseID: CaseID, reason: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let reason = try Input.text(reason, field: "reason", max: 2000)!
        try await database.transaction(logger: logger) { connection in
            guard let row = try await Self.load(caseID.uuid, lock: true, on: connection, logger: logger) else {
                throw RegistryError.notFound("Case")
            }
            guard row.state.isBeforeExecution else {
                throw RegistryError(.conflict, code: "case_ended", message: "Only a case still before execution can suspend her.")
            }
            try await mayAdjudicate(row, caller: caller, on: connection, logger: logger)
            guard try await StandingStore.suspend(caseID: row.id, workerID: row.workerID, reason: reason, by: admin, on: connection, logger: logger)
            else {
                throw RegistryError(.conflict, code: "already_suspended", message: "An interim suspension for this case is in force.")
            }
            try await CaseStore.appendEvent(
                row.id,
                actorKind: "user",
                actorID: admin,
                command: "suspend",
                from: row.state.rawValue,
                to: row.state.rawValue,
                reason: reason,
                on: connection,
                logger: logger
            )
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
            try await mayAdjudicate(row, caller: caller, on: connection, logger: logger)
            guard
                try await StandingStore.liftSuspensions(
                    caseID: row.id,
                    workerID: row.workerID,
                    reason: reason,
                    by: admin,
                    on: connection,
                    logger: logger
                )
            else {
                throw RegistryError(.conflict, code: "not_suspended", message: "No interim suspension of this case is in force.")
            }
            try await CaseStore.appendEvent(
                row.id,
                actorKind: "user",
                actorID: admin,
                command: "lift_suspension",
                from: row.state.rawValue,
                to: row.state.rawValue,
                reason: reason,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("worker.suspension_lifted", "worker", row.workerID, ["case": .string(caseID.text), "reason": .string(reason)]),
                on: connection,
                logger: logger
            )
            try await GradeStore.enqueue(row.workerID, reason: "suspension", on: connection, logger: logger)
        }
    }

    /// An administrator with a conflict of interest (she filed it, declared a tie, or is staff of
    /// an agency that held the worker) cannot decide an interim suspension either.
    func mayAdjudicate(_ row: Row, caller: Caller, on connection: DatabaseConnection, logger: Logger) async throws {
        guard let user = caller.principal.userID else { throw RegistryError.forbidden }
        let facts = try await facts(row, on: connection, logger: logger)
        let excluded = CaseMachine.exclusions(of: user, agency: caller.principal.agencyID, command: .startReview, in: row.record, facts: facts)
        if let first = excluded.first {
            throw RegistryError(.forbidden, code: first.code, message: "You cannot act on this case: you \(first.words).")
        }
    }

    // MARK: Time and the system's steps

    /// The system's side: cases whose window has ended become final and are executed — with no
    /// objection, or with the objection reviewed and not upheld; an objection still under review
    /// waits. SKIP LOCKED and idempotent.
    @discardableResult
    public func executeDue(now: Date? = nil, logger: Logger) async throws -> Int {
        let now = now ?? clock.now
        let today = CivilDate.today(now)
        return try await database.transaction(logger: logger) { connection in
            let ids = try await CaseStore.claimDue(now: now, on: connection, logger: logger)
            var executed = 0
            for id in ids {
                guard var row = try await Self.load(id, lock: true, on: connection, logger: logger) else { continue }
                let (record, events) = try CaseMachine.due(row.record, policy: policy, today: today)
                try await persist(&row, record, events, now: now, caller: .system, on: connection, logger: logger)
                if row.state == .executed { executed += 1 }
            }
            return executed
        }
    }

    /// A flag's source retracted it: every case the system opened because of it and not yet
    /// executed is closed, her suspensions from it lifted and she is told — in the caller's
    /// transaction, with the retraction's other effects.
    public func closeForRetractedFlags(_ flagIDs: [UUID], on connection: DatabaseConnection, logger: Logger) async throws {
        guard !flagIDs.isEmpty else { return }
        for id in try await CaseStore.openCases(originFlags: flagIDs, on: connection, logger: logger) {
            guard var row = try await Self.load(id, lock: true, on: connection, logger: logger) else { continue }
            try await decide(
                &row,
                .retractGrounds,
                by: .system,
                input: CaseInput(reason: "The source retracted the flag this case was opened for: the case has no grounds left."),
                caller: .system,
                on: connection,
                logger: logger
            )
        }
    }

    // MARK: Reinstatement

    /// A reinstatement request for an executed ban: recorded by an administrator at any time (a
    /// court order, new evidence), or applied for by the worker herself once
    /// `reinstatement_after_years` have passed. A case of its own, through the same workflow; when
    /// two administrators confirm it, the ban is lifted at once.
    public func fileReinstatement(bannedCase: CaseID, statement: String, caller: Caller, logger: Logger) async throws -> CaseID {
        let statement = try Input.text(statement, field: "statement", max: 10_000)!
        guard let user = caller.userUUID, caller.principal.role == .admin || caller.principal.role == .worker else {
            throw RegistryError.forbidden
        }
        return try await database.transaction(logger: logger) { connection in
            guard let banned = try await Self.load(bannedCase.uuid, lock: true, on: connection, logger: logger),
                caller.principal.role == .admin || caller.workerUUID == banned.workerID
            else { throw RegistryError.notFound("Case") }
            guard banned.state == .executed, banned.kind == CaseKind.revocation.rawValue,
                try await StandingStore.banInForce(caseID: banned.id, on: connection, logger: logger)
            else { throw RegistryError(.conflict, code: "not_executed", message: "Only a ban in force can be reversed.") }
            guard try await CaseStore.openReinstatement(of: banned.id, on: connection, logger: logger) == nil else {
                throw RegistryError(.conflict, code: "reinstatement_open", message: "A reinstatement request for this ban is already open.")
            }
            if caller.principal.role == .worker {
                let opens = CaseMachine.reinstatementOpens(executedOn: banned.record.executedOn ?? clock.today, policy: policy)
                guard clock.today >= opens else {
                    throw RegistryError(
                        .conflict,
                        code: "too_early",
                        message: "You may apply to be reinstated from \(opens.iso) (\(policy.reinstatementAfterYears) years after the ban). "
                            + "Before then, an administrator can record a request (a court order, new evidence).",
                        details: ["opens": opens.iso]
                    )
                }
            }
            guard
                let id = try await CaseStore.create(
                    kind: "reinstatement",
                    relatedCaseID: bannedCase.uuid,
                    workerID: banned.workerID,
                    requesterKind: caller.principal.role == .worker ? "worker" : "system",
                    requesterID: user,
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
        /// Whose side filed it: requester, worker (she, or her agency or an administrator for her), registry.
        public var party: String
        public var uploadedAt: Date

        init(_ e: CaseStore.Evidence) {
            id = e.id.text
            filename = e.filename
            contentType = e.contentType
            sizeBytes = e.sizeBytes
            sha256 = e.sha256.hex
            description = e.description
            party = e.party
            uploadedAt = e.uploadedAt
        }
    }

    static func sniff(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if bytes.starts(with: Array("%PDF-".utf8)) { return "application/pdf" }
        return nil
    }

    /// Whether `caller` may add a file of `contentType` to this case now: checked before a byte of
    /// the upload is read, so that nobody but a party of a case that takes evidence, with room left
    /// in her party's quota, can make the registry receive, hash and store megabytes.
    public func mayAddEvidence(
        _ caseID: CaseID,
        contentType: String,
        declaredLength: Int?,
        party requested: String? = nil,
        caller: Caller,
        logger: Logger
    ) async throws {
        // Who asks comes first: to anyone but a party, the case does not exist, whatever the upload.
        try await database.withConnection { connection in
            guard let row = try await Self.load(caseID.uuid, lock: false, on: connection, logger: logger),
                let party = try await party(of: caller, in: row, requested: requested, on: connection, logger: logger)
            else { throw RegistryError.notFound("Case") }
            try await roomLeft(row, party: party, on: connection, logger: logger)
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

    /// The case takes files while it is open, and after execution while she may still appeal.
    func takesEvidence(_ row: Row) -> Bool {
        if row.state.isOpen { return true }
        guard row.state == .executed, row.kind == CaseKind.revocation.rawValue, row.appeal == nil, let executed = row.record.executedOn else {
            return false
        }
        return clock.today <= executed.adding(days: policy.appealDays)
    }

    func roomLeft(_ row: Row, party: String, on connection: DatabaseConnection, logger: Logger) async throws {
        guard takesEvidence(row) else {
            throw RegistryError(.conflict, code: "case_ended", message: "This case takes no more evidence.")
        }
        guard try await CaseStore.evidenceCount(row.id, party: party, on: connection, logger: logger) < policy.evidencePerParty else {
            throw RegistryError(
                .conflict,
                code: "evidence_limit",
                message: "Each side of a case files at most \(policy.evidencePerParty) files, and yours has."
            )
        }
    }

    /// Whose side a file the caller adds is on: the requester's; hers (her own, or her agency's
    /// on her behalf); or, for an administrator, the registry's unless she files a letter for the
    /// worker (`party=worker`). Nil: the caller is no party.
    func party(of caller: Caller, in row: Row, requested: String?, on connection: DatabaseConnection, logger: Logger) async throws -> String? {
        guard let actor = try await actor(caller, for: row, on: connection, logger: logger) else { return nil }
        switch actor.kind {
        case .administrator:
            switch requested {
            case nil, "registry": return "registry"
            case "worker": return "worker"
            default: throw RegistryError.invalid("party", "An administrator files for the registry or, her letter, for the worker.")
            }
        case .requester: return "requester"
        case .worker, .custodian: return "worker"
        case .system: return nil
        }
    }

    static func mediaType(_ contentType: String) -> String {
        contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// Adds a file: size and type from policy (the declared type must match the content),
    /// stored content-addressed; never modified or deleted.
    public func addEvidence(
        _ caseID: CaseID,
        filename: String,
        contentType: String,
        bytes: [UInt8],
        description: String?,
        party: String? = nil,
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
            party: party,
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
        party requested: String? = nil,
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
            guard let row = try await Self.load(caseID, lock: true, on: connection, logger: logger),
                let party = try await party(of: caller, in: row, requested: requested, on: connection, logger: logger)
            else { throw RegistryError.notFound("Case") }
            try await roomLeft(row, party: party, on: connection, logger: logger)
            let stored = try await CaseStore.addEvidence(
                caseID,
                sha256: digest,
                bytes: bytes,
                filename: name,
                contentType: declared,
                description: description,
                uploadedBy: caller.userUUID,
                party: party,
                on: connection,
                logger: logger
            )
            let item = EvidenceItem(stored)
            try await AuditStore.append(
                caller.event(
                    "case.evidence_added",
                    "case",
                    caseID,
                    ["sha256": .string(digest.hex), "filename": .string(name), "party": .string(party)]
                ),
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

    // MARK: Answers to evidence

    /// A party answers a file another side filed: the requester answers hers, she (or her agency
    /// for her) answers the requester's, the registry (an administrator) either. Never changed.
    public func answerEvidence(_ evidenceID: UUID, body: String, caller: Caller, logger: Logger) async throws {
        let body = try Input.text(body, field: "body", max: 4000)!
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        try await database.transaction(logger: logger) { connection in
            guard let file = try await CaseStore.evidenceFile(evidenceID, on: connection, logger: logger),
                let row = try await Self.load(file.caseID, lock: true, on: connection, logger: logger),
                let actor = try await actor(caller, for: row, on: connection, logger: logger), actor.kind != .system
            else { throw RegistryError.notFound("Evidence") }
            let party = actor.kind == .requester ? "requester" : actor.kind == .administrator ? "registry" : "worker"
            guard let item = try await CaseStore.evidence(ofCase: row.id, on: connection, logger: logger).first(where: { $0.id == evidenceID }),
                item.party != party
            else {
                throw RegistryError(.conflict, code: "own_evidence", message: "Each side answers the other side's files, not its own.")
            }
            guard takesEvidence(row) else { throw RegistryError(.conflict, code: "case_ended", message: "This case takes no more answers.") }
            try await CaseStore.addAnswer(caseID: row.id, evidenceID: evidenceID, party: party, body: body, by: user, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("case.evidence_answered", "case", row.id, ["evidence": .string(evidenceID.text), "party": .string(party)]),
                on: connection,
                logger: logger
            )
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

    /// Her objection or appeal as the case shows it: always hers, with how it came.
    public struct SubmissionView: Sendable, Encodable {
        public var text: String
        public var channel: String
        /// Entered for her (in person, by letter, by her agency): by whom (administrators only).
        public var enteredBy: String?
        public var enteredByName: String?
        public var evidenceId: String?
        public var outcome: String?
        public var at: Date?
    }

    public struct AnswerView: Sendable, Encodable {
        public var party: String
        public var body: String
        public var answeredAt: Date
    }

    /// Why an administrator cannot act on the case, for administrators.
    public struct ExcludedView: Sendable, Encodable {
        public var adminId: String
        public var name: String
        /// Barred from every step (filed it, a tie, an agency's staff) or only from some.
        public var fromEveryStep: Bool
        public var reasons: [String]
    }

    public struct View: Sendable, Encodable {
        public var id: String
        public var kind: String
        public var workerId: String
        public var relatedCaseId: String?
        public var grounds: String
        public var state: String
        public var outcome: String?
        public var statement: String?
        public var proposedOutcome: String?
        /// The window: nothing is carried out before it has ended (last day, China time).
        public var noticeEndsAt: Date?
        public var noticeLastDay: String?
        public var objection: SubmissionView?
        public var executedAt: Date?
        /// The last day she may appeal (an executed revocation with no appeal yet).
        public var appealUntil: String?
        public var appeal: SubmissionView?
        /// From when she may apply to be reinstated herself (an executed ban in force).
        public var reinstatementFrom: String?
        /// The interim suspension of this case in force (its reason for administrators).
        public var suspended: Bool
        public var suspensionReason: String?
        /// The steps the caller may take now.
        public var allowed: [String]
        /// Who the caller is to the case: administrator, requester, worker, custodian or agency.
        public var viewer: String
        public var evidence: [EvidenceItem]?
        public var answers: [String: [AnswerView]]?
        public var timeline: [Event]?
        public var excluded: [ExcludedView]?
        public var createdAt: Date
    }

    /// The case as `actor` sees it: administrators everything; the requester and the worker the
    /// case with both sides' evidence, the answers and the timeline; her agency (objecting or
    /// appealing for her) the steps it may take and the outcome.
    func view(_ row: Row, for actor: CaseActor, on connection: DatabaseConnection, logger: Logger) async throws -> View {
        let facts = try await facts(row, on: connection, logger: logger)
        let record = row.record
        let today = clock.today
        let suspension = try await StandingStore.caseSuspension(row.id, on: connection, logger: logger)
        let admin = actor.kind == .administrator
        var names: [UUID: String] = [:]
        if admin {
            let entered = [record.objection, record.appeal].compactMap { $0?.channel == .worker ? nil : $0?.enteredBy?.uuid }
            names = try await CaseStore.userNames(entered, on: connection, logger: logger)
        }
        func submission(_ s: Submission?, at: Date?) -> SubmissionView? {
            s.map {
                SubmissionView(
                    text: $0.text,
                    channel: $0.channel.rawValue,
                    enteredBy: admin ? $0.enteredBy?.text : nil,
                    enteredByName: admin ? $0.enteredBy.flatMap { names[$0.uuid] } : nil,
                    evidenceId: $0.evidenceID,
                    outcome: $0.outcome?.rawValue,
                    at: at
                )
            }
        }
        var appealUntil: String?
        var reinstatementFrom: String?
        if row.state == .executed, record.kind == .revocation, let executed = record.executedOn,
            try await StandingStore.banInForce(caseID: row.id, on: connection, logger: logger)
        {
            if record.appeal == nil, today <= executed.adding(days: policy.appealDays) { appealUntil = executed.adding(days: policy.appealDays).iso }
            reinstatementFrom = CaseMachine.reinstatementOpens(executedOn: executed, policy: policy).iso
        }
        let party = actor.kind == .administrator || actor.kind == .requester || actor.kind == .worker
        var v = View(
            id: row.id.text,
            kind: row.kind,
            workerId: row.workerID.text,
            relatedCaseId: row.relatedCaseID?.text,
            grounds: row.grounds,
            state: row.state.rawValue,
            outcome: row.outcome?.rawValue,
            statement: party ? row.statement : nil,
            proposedOutcome: admin ? row.proposedOutcome?.rawValue : nil,
            noticeEndsAt: row.noticeEndsAt,
            noticeLastDay: record.noticeLastDay?.iso,
            objection: party || actor.kind == .custodian ? submission(record.objection, at: row.objectionAt) : nil,
            executedAt: row.executedAt,
            appealUntil: appealUntil,
            appeal: party || actor.kind == .custodian ? submission(record.appeal, at: row.appealAt) : nil,
            reinstatementFrom: reinstatementFrom,
            suspended: suspension != nil,
            suspensionReason: admin ? suspension?.reason : nil,
            allowed: CaseMachine.allowed(record, for: actor, facts: facts, policy: policy, today: today).map(\.rawValue),
            viewer: actor.kind.rawValue,
            createdAt: row.createdAt
        )
        if party {
            v.evidence = try await CaseStore.evidence(ofCase: row.id, on: connection, logger: logger).map(EvidenceItem.init)
            var answers: [String: [AnswerView]] = [:]
            for a in try await CaseStore.answers(ofCase: row.id, on: connection, logger: logger) {
                answers[a.evidenceID.text, default: []].append(AnswerView(party: a.party, body: a.body, answeredAt: a.answeredAt))
            }
            v.answers = answers
            v.timeline = try await CaseStore.events(row.id, on: connection, logger: logger).map {
                Event(
                    command: $0.command,
                    fromState: $0.fromState,
                    toState: $0.toState,
                    actorKind: $0.actorKind,
                    reason: $0.reason,
                    occurredAt: $0.occurredAt
                )
            }
        }
        if admin {
            v.excluded = try await excluded(row, record: record, facts: facts, on: connection, logger: logger)
        }
        return v
    }

    /// Every active administrator barred from some step of the case, and why.
    func excluded(_ row: Row, record: CaseRecord, facts: CaseFacts, on connection: DatabaseConnection, logger: Logger) async throws -> [ExcludedView]
    {
        let steps = CaseCommand.allCases.filter { $0.actors.contains(.administrator) }
        var out: [ExcludedView] = []
        for (id, name) in try await CaseStore.administrators(on: connection, logger: logger) {
            let user = UserID(id)
            let general = CaseMachine.exclusions(of: user, command: .startReview, in: record, facts: facts)
            var reasons = general
            for step in steps {
                for e in CaseMachine.exclusions(of: user, command: step, in: record, facts: facts) where !reasons.contains(e) { reasons.append(e) }
            }
            guard !reasons.isEmpty else { continue }
            out.append(ExcludedView(adminId: id.text, name: name, fromEveryStep: !general.isEmpty, reasons: reasons.map(\.words)))
        }
        return out
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
    /// evidence, answers and timeline; the agency that holds her now her objection and appeal and
    /// the steps it may take for her; any other agency that held her the outcome.
    public func get(_ id: CaseID, caller: Caller, logger: Logger) async throws -> View {
        try await database.withConnection { connection in
            guard let row = try await Self.load(id.uuid, lock: false, on: connection, logger: logger) else { throw RegistryError.notFound("Case") }
            if let actor = try await actor(caller, for: row, on: connection, logger: logger) {
                return try await view(row, for: actor, on: connection, logger: logger)
            }
            if caller.principal.role == .agencyStaff, let agency = caller.agencyUUID,
                try await WorkerStore.agencyHeld(row.workerID, agencyID: agency, on: connection, logger: logger)
            {
                var v = try await view(row, for: CaseActor(kind: .custodian, userID: nil), on: connection, logger: logger)
                (v.allowed, v.objection, v.appeal, v.viewer) = ([], nil, nil, "agency")
                return v
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
