import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Disputes of sealed tenure assessments. The worker disputes the assessment an agency sealed on
/// its tenure with her; the agency that wrote it may answer once with a short statement; an
/// administrator decides in the same queue as review disputes. Upheld: an annotation row marks
/// the assessment overturned with the administrator's reason (the sealed tenure never changes),
/// it stops counting in her grade and the report shows it struck through. Rejected: it stays, with
/// the decision note on the dispute. Both parties are told the outcome; every step is audited.
public struct TenureDisputeService: Sendable {
    let database: Database
    let clock: RegistryClock
    let demerits: DemeritPolicy

    /// A dispute with the assessment it is about: the same view for the worker, the agency and
    /// administrators (each sees only the disputes that concern her).
    public struct Dispute: Sendable, Encodable, Equatable {
        public var id: String
        public var tenureId: String
        public var workerId: String
        public var workerName: String
        public var agencyId: String
        public var agencyName: String
        public var startedOn: String
        public var endedOn: String?
        public var ethicsRating: Int?
        public var ethicsNote: String?
        public var workAbility: String?
        public var reason: String
        public var status: String
        public var agencyStatement: String?
        public var agencyAnsweredAt: Date?
        public var createdAt: Date
        public var decidedAt: Date?
        public var decisionNote: String?

        init(_ d: TenureDisputeStore.Dispute) {
            id = d.id.text
            tenureId = d.tenureID.text
            workerId = d.workerID.text
            workerName = d.workerName
            agencyId = d.agencyID.text
            agencyName = d.agencyName
            startedOn = d.startedOn
            endedOn = d.endedOn
            ethicsRating = d.ethicsRating
            ethicsNote = d.ethicsNote
            workAbility = d.workAbility
            reason = d.reason
            status = d.status
            agencyStatement = d.agencyStatement
            agencyAnsweredAt = d.agencyAnsweredAt
            createdAt = d.createdAt
            decidedAt = d.decidedAt
            decisionNote = d.decisionNote
        }
    }

    /// The worker disputes the sealed assessment of one of her tenures. The agency that wrote it is told.
    public func raise(tenureID: UUID, reason: String, caller: Caller, logger: Logger) async throws -> UUID {
        guard caller.principal.role == .worker, let worker = caller.workerUUID, let user = caller.userUUID else { throw RegistryError.forbidden }
        let text = try Input.text(reason, field: "reason", max: 2000)!
        return try await database.transaction(logger: logger) { connection in
            guard let t = try await TenureDisputeStore.tenure(tenureID, on: connection, logger: logger), t.workerID == worker else {
                throw RegistryError.notFound("Tenure")
            }
            guard t.sealed else {
                throw RegistryError(
                    .conflict,
                    code: "tenure_not_sealed",
                    message: "This tenure is still open: its assessment can be disputed once the agency has sealed it."
                )
            }
            guard t.assessed else {
                throw RegistryError(.conflict, code: "nothing_to_dispute", message: "The agency recorded no assessment on this tenure.")
            }
            guard !t.overturned else {
                throw RegistryError(.conflict, code: "assessment_overturned", message: "This assessment was already overturned.")
            }
            let id = try await TenureDisputeStore.create(
                tenureID: tenureID,
                workerID: worker,
                agencyID: t.agencyID,
                raisedBy: user,
                reason: text,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("tenure.disputed", "tenure", tenureID, ["dispute": .string(id.text), "agency": .string(t.agencyID.text)]),
                on: connection,
                logger: logger
            )
            let name = try await WorkerStore.get(worker, on: connection, logger: logger)?.fullName ?? ""
            try await AgencyTexts.send(
                "tenure_disputed",
                to: t.agencyID,
                ["worker": name, "agency": t.agencyName],
                key: "tenure-disputed-\(id.text)",
                on: connection,
                logger: logger
            )
            return id
        }
    }

    /// The worker's own disputes of assessments, newest first, with their outcome.
    public func own(caller: Caller, logger: Logger) async throws -> [Dispute] {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await TenureDisputeStore.forWorker(worker, on: connection, logger: logger).map(Dispute.init)
        }
    }

    /// The open disputes of an agency's assessments (its staff answer them).
    public func forAgency(caller: Caller, logger: Logger) async throws -> [Dispute] {
        try await database.withConnection { connection in
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
            return try await TenureDisputeStore.open(agencyID: agency.id, on: connection, logger: logger).map(Dispute.init)
        }
    }

    /// The agency that wrote the assessment answers the dispute once, before it is decided.
    public func answer(_ id: UUID, statement: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .agencyStaff, let user = caller.userUUID else { throw RegistryError.forbidden }
        let text = try Input.text(statement, field: "statement", max: 2000)!
        try await database.transaction(logger: logger) { connection in
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: true, on: connection, logger: logger)
            guard let d = try await TenureDisputeStore.get(id, lock: true, on: connection, logger: logger), d.agencyID == agency.id else {
                throw RegistryError.notFound("Dispute")
            }
            guard d.status == "open" else { throw RegistryError(.conflict, code: "dispute_decided", message: "This dispute was already decided.") }
            guard d.agencyStatement == nil else {
                throw RegistryError(.conflict, code: "already_answered", message: "Your agency has already answered this dispute.")
            }
            try await TenureDisputeStore.answer(id, statement: text, by: user, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("tenure.dispute_answered", "tenure", d.tenureID, ["dispute": .string(id.text)]),
                on: connection,
                logger: logger
            )
        }
    }

    /// The administrators' queue (oldest first).
    public func open(logger: Logger) async throws -> [Dispute] {
        try await database.withConnection { connection in
            try await TenureDisputeStore.open(on: connection, logger: logger).map(Dispute.init)
        }
    }

    /// One dispute, for an administrator.
    public func get(_ id: UUID, caller: Caller, logger: Logger) async throws -> Dispute {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            guard let d = try await TenureDisputeStore.get(id, lock: false, on: connection, logger: logger) else {
                throw RegistryError.notFound("Dispute")
            }
            return Dispute(d)
        }
    }

    /// Whether `id` names a tenure dispute (the shared queue decides reviews and tenures by id).
    public func isTenureDispute(_ id: UUID, logger: Logger) async throws -> Bool {
        try await database.withConnection { connection in
            try await TenureDisputeStore.get(id, lock: false, on: connection, logger: logger) != nil
        }
    }

    /// An administrator decides. Upheld: the assessment is overturned by an annotation with the
    /// note as its reason and she is regraded; rejected: it stays, with the note. The worker is
    /// texted and the agency e-mailed, once each.
    public func decide(_ id: UUID, uphold: Bool, note: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let note = try Input.text(note, field: "note", max: 2000)!
        try await database.transaction(logger: logger) { connection in
            guard let d = try await TenureDisputeStore.get(id, lock: true, on: connection, logger: logger) else {
                throw RegistryError.notFound("Dispute")
            }
            guard d.status == "open" else { throw RegistryError(.conflict, code: "dispute_decided", message: "This dispute was already decided.") }
            try await TenureDisputeStore.decide(id, upheld: uphold, by: admin, note: note, on: connection, logger: logger)
            if uphold {
                try await TenureDisputeStore.annotate(tenureID: d.tenureID, disputeID: id, reason: note, by: admin, on: connection, logger: logger)
                try await GradeStore.enqueue(d.workerID, reason: "assessment_overturned", on: connection, logger: logger)
                try await DemeritService.recordBySystem(
                    "assessment_overturned",
                    agencyID: d.agencyID,
                    workerID: d.workerID,
                    evidence: "Tenure assessment overturned on the worker's dispute \(id.text): \(note)",
                    eventKey: "tenure-dispute-\(id.text)",
                    policy: demerits,
                    on: connection,
                    logger: logger
                )
            }
            try await AuditStore.append(
                caller.event(
                    uphold ? "tenure.assessment_overturned" : "tenure.dispute_rejected",
                    "tenure",
                    d.tenureID,
                    ["dispute": .string(id.text), "note": .string(note), "worker": .string(d.workerID.text)]
                ),
                on: connection,
                logger: logger
            )
            try await WorkerTexts.send(
                uphold ? "tenure_dispute_upheld" : "tenure_dispute_rejected",
                to: d.workerID,
                ["agency": d.agencyName],
                key: "tenure-dispute-answered-\(id.text)",
                on: connection,
                logger: logger
            )
            try await AgencyTexts.send(
                uphold ? "tenure_assessment_overturned" : "tenure_assessment_kept",
                to: d.agencyID,
                ["worker": d.workerName, "note": note],
                key: "tenure-dispute-decided-\(id.text)",
                on: connection,
                logger: logger
            )
        }
    }
}
