import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Agency demerit points (`Policies/demerits.yaml`): the registry records the offences it sees
/// itself, administrators record the others with their evidence; the agency is told and may
/// answer; an administrator upholds or withdraws (or the deadline upholds it unanswered); upheld
/// points count until they expire, and what the points in force reach — a warning, new
/// registrations suspended, a case — is applied, told and audited once per change.
public struct DemeritService: Sendable {
    let database: Database
    let clock: RegistryClock
    let policy: DemeritPolicy

    public struct Demerit: Sendable, Equatable, Encodable {
        public var id: UUID
        public var agencyId: UUID
        public var agencyName: String
        /// The offence's reason code (`Policies/demerits.yaml`), and in plain words.
        public var offence: String
        public var offenceZh: String
        public var offenceEn: String
        public var points: Int
        public var state: String
        public var evidence: String
        public var workerId: UUID?
        /// "system" (recorded by the registry itself) or "administrator".
        public var recordedBy: String
        public var recordedAt: Date
        public var answerDue: Date
        public var answer: String?
        public var answeredAt: Date?
        public var decidedAt: Date?
        /// "administrator", or "deadline" when it was upheld unanswered.
        public var decidedBy: String?
        public var decisionReason: String?
        public var expiresAt: Date?
        /// Upheld and not yet expired: its points count now.
        public var inForce: Bool
    }

    public struct Standing: Sendable, Equatable, Encodable {
        public var agencyId: UUID
        public var agencyName: String
        /// Upheld points not yet expired, and what they lead to.
        public var points: Int
        public var level: String
        public var thresholds: [String: Int]
        public var demerits: [Demerit]
    }

    public struct NewDemerit: Sendable, Decodable {
        public var offence: String
        public var evidence: String
        public var workerId: UUID?

        public init(offence: String, evidence: String, workerId: UUID? = nil) {
            self.offence = offence
            self.evidence = evidence
            self.workerId = workerId
        }

        enum CodingKeys: String, CodingKey {
            case offence, evidence
            case workerId = "worker_id"
        }
    }

    func view(_ row: DemeritStore.Row, now: Date) -> Demerit {
        let offence = policy.offences[row.offence]
        return Demerit(
            id: row.id,
            agencyId: row.agencyID,
            agencyName: row.agencyName,
            offence: row.offence,
            offenceZh: offence?.zh ?? row.offence,
            offenceEn: offence?.en ?? row.offence,
            points: row.points,
            state: row.state,
            evidence: row.evidence,
            workerId: row.workerID,
            recordedBy: row.recordedBySystem ? "system" : "administrator",
            recordedAt: row.recordedAt,
            answerDue: row.answerDue,
            answer: row.answer,
            answeredAt: row.answeredAt,
            decidedAt: row.decidedAt,
            decidedBy: row.decidedAt == nil ? nil : (row.decidedBySystem ? "deadline" : "administrator"),
            decisionReason: row.decisionReason,
            expiresAt: row.expiresAt,
            inForce: row.state == "upheld" && (row.expiresAt.map { $0 > now } ?? false)
        )
    }

    // MARK: Recording

    /// Records an offence the registry saw itself, inside the transaction of the event (once per
    /// `eventKey`): audited and told to the agency. Nothing when policy does not declare it.
    static func recordBySystem(
        _ offence: String,
        agencyID: UUID,
        workerID: UUID?,
        evidence: String,
        eventKey: String,
        policy: DemeritPolicy,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        guard let rule = policy.offences[offence] else { return }
        guard
            let id = try await DemeritStore.insert(
                agencyID: agencyID,
                offence: offence,
                points: rule.points,
                expiresDays: rule.expiresDays,
                evidence: evidence,
                workerID: workerID,
                eventKey: eventKey,
                recordedBy: nil,
                answerDays: policy.answerDays,
                on: connection,
                logger: logger
            )
        else { return }
        try await recorded(id, offence: offence, rule: rule, agencyID: agencyID, caller: .system, policy: policy, on: connection, logger: logger)
    }

    /// An administrator records an offence that the registry cannot see itself, with its evidence.
    public func record(agencyID: UUID, _ input: NewDemerit, caller: Caller, logger: Logger) async throws -> Demerit {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        guard let rule = policy.offences[input.offence] else {
            let known = policy.offences.filter { $0.value.recordedBy == .administrator }.keys.sorted()
            throw RegistryError.invalid("offence", "Unknown offence. Administrators record: \(known.joined(separator: ", ")).")
        }
        guard rule.recordedBy == .administrator else {
            throw RegistryError.invalid("offence", "The registry records '\(input.offence)' itself, when it happens.", code: "recorded_by_system")
        }
        let evidence = try Input.text(input.evidence, field: "evidence", max: 4000)!
        return try await database.transaction(logger: logger) { connection in
            guard try await AgencyStore.find(id: agencyID, on: connection, logger: logger) != nil else { throw RegistryError.notFound("Agency") }
            if let worker = input.workerId {
                guard try await WorkerStore.get(worker, on: connection, logger: logger) != nil else {
                    throw RegistryError.invalid("worker_id", "No such worker.")
                }
            }
            let id = try await DemeritStore.insert(
                agencyID: agencyID,
                offence: input.offence,
                points: rule.points,
                expiresDays: rule.expiresDays,
                evidence: evidence,
                workerID: input.workerId,
                eventKey: nil,
                recordedBy: admin,
                answerDays: policy.answerDays,
                on: connection,
                logger: logger
            )!
            try await Self.recorded(
                id,
                offence: input.offence,
                rule: rule,
                agencyID: agencyID,
                caller: caller,
                policy: policy,
                on: connection,
                logger: logger
            )
            return view(try await DemeritStore.get(id, lock: false, on: connection, logger: logger)!, now: clock.now)
        }
    }

    static func recorded(
        _ id: UUID,
        offence: String,
        rule: DemeritPolicy.Offence,
        agencyID: UUID,
        caller: Caller,
        policy: DemeritPolicy,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        try await AuditStore.append(
            caller.event(
                "demerit.recorded",
                "demerit",
                id,
                ["agency": .string(agencyID.text), "offence": .string(offence), "points": .int(rule.points)]
            ),
            on: connection,
            logger: logger
        )
        try await AgencyTexts.send(
            "demerit_notice",
            to: agencyID,
            ["offence": rule.zh, "offence_en": rule.en, "points": String(rule.points), "days": String(policy.answerDays)],
            key: "demerit-notice-\(id.text)",
            on: connection,
            logger: logger
        )
    }

    // MARK: The agency's answer and the decision

    /// The agency answers a notice, once, before its due date (its staff; a suspended agency too).
    public func answer(_ id: UUID, text: String, caller: Caller, logger: Logger) async throws -> Demerit {
        let text = try Input.text(text, field: "answer", max: 4000)!
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.transaction(logger: logger) { connection in
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
            guard let row = try await DemeritStore.get(id, lock: true, on: connection, logger: logger), row.agencyID == agency.id else {
                throw RegistryError.notFound("Demerit")
            }
            guard DemeritState(rawValue: row.state)?.applying(.answer) != nil else {
                throw RegistryError(.conflict, code: "demerit_not_open", message: "This notice was already answered or decided.")
            }
            guard row.answerDue > clock.now else {
                throw RegistryError(.conflict, code: "answer_overdue", message: "The time to answer this notice has passed.")
            }
            try await DemeritStore.answer(id, text: text, by: user, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("demerit.answered", "demerit", id, ["agency": .string(agency.id.text)]),
                on: connection,
                logger: logger
            )
            return view(try await DemeritStore.get(id, lock: false, on: connection, logger: logger)!, now: clock.now)
        }
    }

    /// An administrator upholds an answered notice or withdraws any open one, with a reason.
    public func decide(_ id: UUID, uphold: Bool, reason: String, caller: Caller, logger: Logger) async throws -> Demerit {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let reason = try Input.text(reason, field: "reason", max: 2000)!
        return try await database.transaction(logger: logger) { connection in
            guard let row = try await DemeritStore.get(id, lock: true, on: connection, logger: logger) else {
                throw RegistryError.notFound("Demerit")
            }
            guard let state = DemeritState(rawValue: row.state), state.applying(uphold ? .uphold : .withdraw) != nil else {
                let message =
                    row.state == "notified"
                    ? "The agency may answer until its due date; uphold it after its answer, or once the date has passed."
                    : "This demerit was already decided."
                throw RegistryError(.conflict, code: row.state == "notified" ? "awaiting_answer" : "demerit_decided", message: message)
            }
            try await DemeritStore.decide(id, uphold: uphold, by: admin, reason: reason, on: connection, logger: logger)
            try await Self.decided(row, uphold: uphold, reason: reason, caller: caller, policy: policy, on: connection, logger: logger)
            return view(try await DemeritStore.get(id, lock: false, on: connection, logger: logger)!, now: clock.now)
        }
    }

    static func decided(
        _ row: DemeritStore.Row,
        uphold: Bool,
        reason: String?,
        caller: Caller,
        policy: DemeritPolicy,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        var details: [String: AuditValue] = ["agency": .string(row.agencyID.text), "offence": .string(row.offence), "points": .int(row.points)]
        if let reason { details["reason"] = .string(reason) }
        try await AuditStore.append(
            caller.event(uphold ? (reason == nil ? "demerit.upheld_unanswered" : "demerit.upheld") : "demerit.withdrawn", "demerit", row.id, details),
            on: connection,
            logger: logger
        )
        let offence = policy.offences[row.offence]
        try await AgencyTexts.send(
            uphold ? (reason == nil ? "demerit_upheld_unanswered" : "demerit_upheld") : "demerit_withdrawn",
            to: row.agencyID,
            [
                "offence": offence?.zh ?? row.offence, "offence_en": offence?.en ?? row.offence, "points": String(row.points),
                "reason": reason ?? "-",
            ],
            key: "demerit-decided-\(row.id.text)",
            on: connection,
            logger: logger
        )
        if uphold { try await applyLevel(row.agencyID, policy: policy, on: connection, logger: logger) }
    }

    /// Sets the agency's level from its points in force; a change is audited and told once.
    @discardableResult
    static func applyLevel(_ agencyID: UUID, policy: DemeritPolicy, on connection: DatabaseConnection, logger: Logger) async throws -> Bool {
        guard let stored = try await DemeritStore.level(agencyID, lock: true, on: connection, logger: logger) else { return false }
        let points = try await DemeritStore.pointsInForce(agencyID, on: connection, logger: logger)
        let level = policy.level(points: points)
        let before = DemeritPolicy.Level(rawValue: stored) ?? .none
        guard level != before else { return false }
        try await DemeritStore.setLevel(agencyID, level.rawValue, on: connection, logger: logger)
        if level == .caseAgainst { try await openCase(agencyID, points: points, on: connection, logger: logger) }
        try await AuditStore.append(
            Caller.system.event(
                "agency.demerit_level",
                "agency",
                agencyID,
                ["from": .string(before.rawValue), "to": .string(level.rawValue), "points": .int(points)]
            ),
            on: connection,
            logger: logger
        )
        try await AgencyTexts.send(
            level > before ? "demerit_level_\(level.rawValue)" : "demerit_level_lowered",
            to: agencyID,
            ["points": String(points)],
            key: "demerit-level-\(agencyID.text)-\(level.rawValue)-\(UUID().uuidString.lowercased())",
            on: connection,
            logger: logger
        )
        return true
    }

    /// Refuses to take on new workers (registration, import, a transfer request) while the
    /// agency's points in force suspend its new registrations.
    static func requireRegistrationsOpen(_ agency: AgencyStore.Agency) throws(RegistryError) {
        let level = DemeritPolicy.Level(rawValue: agency.demeritLevel) ?? .none
        guard level < .registrationsSuspended else {
            throw RegistryError(
                .forbidden,
                code: "registrations_suspended",
                message: "Your agency's demerit points suspend its new registrations until they fall below the threshold. See /agency/demerits."
            )
        }
    }

    // MARK: Reading

    /// An agency's file: administrators any, staff their own.
    public func standing(agencyID: UUID?, caller: Caller, logger: Logger) async throws -> Standing {
        try await database.withConnection { connection in
            let agency = try await AgencyAccess.agency(agencyID, caller: caller, write: false, on: connection, logger: logger)
            let rows = try await DemeritStore.forAgency(agency.id, on: connection, logger: logger)
            let points = try await DemeritStore.pointsInForce(agency.id, on: connection, logger: logger)
            let level = try await DemeritStore.level(agency.id, lock: false, on: connection, logger: logger) ?? "none"
            let t = policy.thresholds
            return Standing(
                agencyId: agency.id,
                agencyName: agency.name,
                points: points,
                level: level,
                thresholds: ["warning": t.warning, "suspend_registrations": t.suspendRegistrations, "case": t.caseAgainst],
                demerits: rows.map { view($0, now: clock.now) }
            )
        }
    }

    /// Notices awaiting the agency's answer or a decision, oldest first (administrators).
    public func queue(caller: Caller, logger: Logger) async throws -> [Demerit] {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await DemeritStore.open(on: connection, logger: logger).map { view($0, now: clock.now) }
        }
    }

    /// An agency as anyone may see it (the public agency page, linked from reports): its band,
    /// demerit points in force, placements and the credit commitment it signed — never the
    /// notices' evidence. Pending and rejected agencies are not shown (404).
    public struct PublicAgency: Sendable, Equatable, Encodable {
        public var id: UUID
        public var name: String
        public var uscc: String
        public var regionCode: String
        public var status: String
        public var band: String
        public var points: Int
        public var level: String
        public var placements: Int
        public var commitment: Commitment?

        public struct Commitment: Sendable, Equatable, Encodable {
            public var version: String
            public var representative: String?
            public var signedAt: Date
            /// Signed in the version in force.
            public var current: Bool
        }
    }

    public func publicAgency(_ id: UUID, commitmentInForce: String, logger: Logger) async throws -> PublicAgency {
        let row = try await database.withConnection { connection in
            try await DemeritStore.publicAgency(id, on: connection, logger: logger)
        }
        guard let row else { throw RegistryError.notFound("Agency") }
        return PublicAgency(
            id: row.id,
            name: row.name,
            uscc: row.uscc,
            regionCode: row.regionCode,
            status: row.status,
            band: policy.band(points: row.points),
            points: row.points,
            level: row.level,
            placements: row.placements,
            commitment: row.commitmentVersion.flatMap { version in
                row.signedAt.map { .init(version: version, representative: row.representative, signedAt: $0, current: version == commitmentInForce) }
            }
        )
    }

    // MARK: Time

    /// Upholds notices left unanswered past their due date, and lowers the level of agencies
    /// whose points have expired. Safe on several nodes (SKIP LOCKED; levels under a row lock).
    public func runDeadlines(logger: Logger) async throws -> Int {
        var handled = 0
        while true {
            let n: Int = try await database.transaction(logger: logger) { connection in
                let ids = try await DemeritStore.claimOverdue(limit: 100, on: connection, logger: logger)
                for id in ids {
                    guard let row = try await DemeritStore.get(id, lock: true, on: connection, logger: logger) else { continue }
                    try await DemeritStore.decide(id, uphold: true, by: nil, reason: nil, on: connection, logger: logger)
                    try await Self.decided(row, uphold: true, reason: nil, caller: .system, policy: policy, on: connection, logger: logger)
                }
                return ids.count
            }
            handled += n
            if n == 0 { break }
        }
        let agencies = try await database.withConnection { connection in
            try await DemeritStore.agenciesWithLevel(on: connection, logger: logger)
        }
        for agency in agencies {
            let changed = try await database.transaction(logger: logger) { connection in
                try await Self.applyLevel(agency, policy: policy, on: connection, logger: logger)
            }
            if changed { handled += 1 }
        }
        return handled
    }
}
