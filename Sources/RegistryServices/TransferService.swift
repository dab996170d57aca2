import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Transfer of custody (续接): the new agency asks, the worker consents, the old agency seals its
/// tenure (or the deadline passes), the new tenure starts. Every step locks the transfer row,
/// checks the state machine, and writes its audit row in the same transaction.
public struct TransferService: Sendable {
    let database: Database
    let clock: RegistryClock
    let keys: KeyRing
    let policy: CustodyPolicy
    let demerits: DemeritPolicy

    init(database: Database, clock: RegistryClock, keys: KeyRing, policy: CustodyPolicy, demerits: DemeritPolicy) {
        self.database = database
        self.clock = clock
        self.keys = keys
        self.policy = policy
        self.demerits = demerits
    }

    public typealias View = TransferView

    public struct Requested: Sendable {
        public var transfer: View
        /// Whether a code went to her phone (false: she has none and consents in her own account).
        public var codeSent: Bool
    }

    static func maskPhone(_ phone: String) -> String {
        String(phone.prefix(3)) + String(repeating: "*", count: max(0, phone.count - 7)) + String(phone.suffix(4))
    }

    /// The new agency asks for custody of the worker with this ID number.
    public func request(idNumber: String, caller: Caller, logger: Logger) async throws -> Requested {
        let id = try NationalID(idNumber, today: clock.today)
        let blind = Data(keys.blindIndex(id))
        let code = TokenGenerator.numericCode(digits: 6)
        // Counted before the ID number is looked up: each request texts a worker and tells that a file exists.
        // (The caller's agency is checked, approved and writable, in the transaction below.)
        guard let agencyID = caller.agencyUUID else { throw RegistryError.forbidden }
        guard
            try await RateLimitStore.hit(
                key: "transfer-requests:" + agencyID.text,
                limit: policy.transferRequestsPerAgencyPerDay,
                per: .day,
                database: database,
                logger: logger
            )
        else {
            throw RegistryError(
                .throttled,
                code: "too_many_transfer_requests",
                message: "Your agency has made \(policy.transferRequestsPerAgencyPerDay) transfer requests today. Try again tomorrow.",
                details: ["retry_after": String(RateLimitStore.Window.day.secondsLeft())]
            )
        }
        return try await database.transaction(logger: logger) { connection in
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: true, on: connection, logger: logger)
            try DemeritService.requireRegistrationsOpen(agency)
            guard let user = caller.userUUID else { throw RegistryError.forbidden }
            guard let found = try await WorkerStore.find(blindIndex: blind, on: connection, logger: logger) else {
                throw RegistryError(
                    .notFound,
                    code: "no_file",
                    message: "No file exists for this ID number: register her instead.",
                    field: "id_number"
                )
            }
            guard found.agencyID != agency.id else {
                throw RegistryError(.conflict, code: "already_in_custody", message: "This worker is already in your agency's custody.")
            }
            let worker = try await WorkerStore.get(found.id, on: connection, logger: logger)
            guard worker?.status != "revoked" else {
                throw RegistryError(.conflict, code: "worker_revoked", message: "This worker is barred from practice; her file cannot move.")
            }
            let transferID = try await TransferStore.create(
                workerID: found.id,
                from: found.agencyID,
                to: agency.id,
                by: user,
                codeHash: Data(TokenGenerator.hash(code)),
                codeMinutes: policy.consentCodeMinutes,
                on: connection,
                logger: logger
            )
            var sent = false
            if let phone = worker?.phone {
                try await NotificationStore.enqueue(
                    channel: "sms",
                    recipient: phone,
                    template: "transfer_consent_code",
                    payload: ["code": code, "agency": agency.name, "minutes": String(policy.consentCodeMinutes)],
                    on: connection,
                    logger: logger
                )
                sent = true
            }
            try await AuditStore.append(
                caller.event(
                    "transfer.requested",
                    "transfer",
                    transferID,
                    [
                        "worker": .string(found.id.text), "from": .string(found.agencyID.text), "to": .string(agency.id.text),
                        "code_sent": .bool(sent),
                    ]
                ),
                on: connection,
                logger: logger
            )
            guard let transfer = try await TransferStore.get(transferID, on: connection, logger: logger) else {
                throw RegistryError.notFound("Transfer")
            }
            return Requested(transfer: View(transfer, for: .to), codeSent: sent)
        }
    }

    /// Who takes part: "to" (requesting agency), "from" (agency in custody), "worker", "admin".
    typealias Party = TransferParty

    func party(_ t: TransferStore.Transfer, caller: Caller, write: Bool, on connection: DatabaseConnection, logger: Logger) async throws -> Party {
        switch caller.principal.role {
        case .admin: return .admin
        case .worker where caller.workerUUID == t.workerID: return .worker
        case .agencyStaff:
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: write, on: connection, logger: logger)
            if agency.id == t.toAgencyID { return .to }
            if agency.id == t.fromAgencyID { return .from }
        default: break
        }
        logger.notice("transfer access refused", metadata: ["transfer": "\(t.id.text)", "user": "\(caller.principal.userID?.text ?? "-")"])
        throw RegistryError.notFound("Transfer")
    }

    public func get(_ id: UUID, caller: Caller, logger: Logger) async throws -> View {
        try await database.withConnection { connection in
            guard let t = try await TransferStore.get(id, on: connection, logger: logger) else { throw RegistryError.notFound("Transfer") }
            return View(t, for: try await party(t, caller: caller, write: false, on: connection, logger: logger))
        }
    }

    public func list(openOnly: Bool, caller: Caller, logger: Logger) async throws -> [View] {
        try await database.withConnection { connection in
            switch caller.principal.role {
            case .worker:
                // Hers: the requests waiting for her answer (open), or all of them.
                guard let worker = caller.workerUUID else { throw RegistryError.forbidden }
                return try await TransferStore.forWorker(worker, openOnly: openOnly, limit: 200, on: connection, logger: logger).map(View.init)
            case .admin:
                return try await TransferStore.all(openOnly: openOnly, limit: 200, on: connection, logger: logger).map(View.init)
            default:
                let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
                return try await TransferStore.list(agencyID: agency.id, openOnly: openOnly, limit: 200, on: connection, logger: logger)
                    .map { View($0, for: $0.toAgencyID == agency.id ? .to : .from) }
            }
        }
    }

    enum CodeOutcome: Sendable {
        case consented(View)
        case wrong(left: Int)
    }

    /// The worker consents: in her own account (no code), or the requesting agency enters the
    /// one-time code she received. Wrong codes count; past the limit the code is void.
    public func consent(_ id: UUID, code: String?, caller: Caller, logger: Logger) async throws -> View {
        let outcome: CodeOutcome = try await database.transaction(logger: logger) { connection in
            guard let t = try await TransferStore.lock(id, on: connection, logger: logger) else { throw RegistryError.notFound("Transfer") }
            let who = try await party(t, caller: caller, write: true, on: connection, logger: logger)
            _ = try TransferMachine.apply(.consent, to: t.status)
            let method: String
            switch who {
            case .worker:
                method = "account"
            case .to:
                guard let code = code?.trimmingWhitespace(), !code.isEmpty else {
                    throw RegistryError.invalid("code", "Enter the code the worker received.", code: "missing_field")
                }
                guard let hash = t.consentCodeHash, let expires = t.consentCodeExpiresAt, expires > clock.now else {
                    throw RegistryError(.conflict, code: "code_expired", message: "The consent code has expired. Ask for a new one.")
                }
                guard t.consentAttempts < policy.consentCodeAttempts else {
                    throw RegistryError(
                        .conflict,
                        code: "code_exhausted",
                        message: "Too many wrong codes for this transfer. Cancel it; she can consent in her own account."
                    )
                }
                guard TokenGenerator.constantTimeEqual(Data(TokenGenerator.hash(code)).base64EncodedString(), hash.base64EncodedString()) else {
                    try await TransferStore.countFailedCode(id, on: connection, logger: logger)
                    try await AuditStore.append(caller.event("transfer.consent_code_wrong", "transfer", id), on: connection, logger: logger)
                    return .wrong(left: policy.consentCodeAttempts - t.consentAttempts - 1)
                }
                method = "code"
            case .from, .admin:
                throw RegistryError(.forbidden, code: "not_a_party", message: "Only the worker can consent to her transfer.")
            }
            try await TransferStore.markConsented(id, method: method, deadlineDays: policy.sealDeadlineDays, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("transfer.consented", "transfer", id, ["method": .string(method)]),
                on: connection,
                logger: logger
            )
            guard let updated = try await TransferStore.get(id, on: connection, logger: logger) else { throw RegistryError.notFound("Transfer") }
            return .consented(View(updated, for: who))
        }
        switch outcome {
        case .consented(let view): return view
        case .wrong(let left):
            throw RegistryError(.badRequest, code: "wrong_code", message: "The code is wrong. \(max(0, left)) tries left.", field: "code")
        }
    }

    /// The requesting agency sends a fresh code (the old one is void).
    public func resendCode(_ id: UUID, caller: Caller, logger: Logger) async throws -> Bool {
        let code = TokenGenerator.numericCode(digits: 6)
        return try await database.transaction(logger: logger) { connection in
            guard let t = try await TransferStore.lock(id, on: connection, logger: logger) else { throw RegistryError.notFound("Transfer") }
            guard try await party(t, caller: caller, write: true, on: connection, logger: logger) == .to else {
                throw RegistryError(.forbidden, code: "not_a_party", message: "Only the requesting agency can send a new code.")
            }
            guard t.status == .requested else {
                throw RegistryError(.conflict, code: "illegal_transition", message: "Codes are sent only while the transfer awaits consent.")
            }
            guard try await TransferStore.codesSent(id, on: connection, logger: logger) < policy.consentCodeSends else {
                throw RegistryError(
                    .conflict,
                    code: "codes_exhausted",
                    message: "\(policy.consentCodeSends) codes were sent for this transfer. Cancel it; she can consent in her own account."
                )
            }
            guard t.consentAttempts < policy.consentCodeAttempts else {
                throw RegistryError(
                    .conflict,
                    code: "code_exhausted",
                    message: "Too many wrong codes for this transfer. Cancel it; she can consent in her own account."
                )
            }
            // The text names the agency asking, as the first one did.
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
            let worker = try await WorkerStore.get(t.workerID, on: connection, logger: logger)
            guard let phone = worker?.phone else {
                throw RegistryError(.conflict, code: "no_phone", message: "The worker has no phone on file: she consents in her own account.")
            }
            try await TransferStore.replaceCode(
                id,
                codeHash: Data(TokenGenerator.hash(code)),
                codeMinutes: policy.consentCodeMinutes,
                on: connection,
                logger: logger
            )
            try await NotificationStore.enqueue(
                channel: "sms",
                recipient: phone,
                template: "transfer_consent_code",
                payload: ["code": code, "agency": agency.name, "minutes": String(policy.consentCodeMinutes)],
                on: connection,
                logger: logger
            )
            try await AuditStore.append(caller.event("transfer.code_resent", "transfer", id), on: connection, logger: logger)
            return true
        }
    }

    /// The worker refuses (or an administrator records her refusal), or the requesting agency
    /// (or an administrator) cancels.
    public func close(_ id: UUID, _ event: TransferEvent, reason: String?, caller: Caller, logger: Logger) async throws -> View {
        precondition(event == .reject || event == .cancel)
        let reason = try Input.text(reason, field: "reason", max: 1000, required: false)
        return try await database.transaction(logger: logger) { connection in
            guard let t = try await TransferStore.lock(id, on: connection, logger: logger) else { throw RegistryError.notFound("Transfer") }
            let who = try await party(t, caller: caller, write: true, on: connection, logger: logger)
            // She may withdraw her consent until the transfer completes.
            let permitted: [Party] = event == .reject ? [.worker, .admin] : [.to, .worker, .admin]
            guard permitted.contains(who) else {
                throw RegistryError(
                    .forbidden,
                    code: "not_a_party",
                    message: event == .reject
                        ? "Only the worker can refuse her transfer."
                        : "Only the requesting agency, the worker or an administrator can cancel."
                )
            }
            let next = try TransferMachine.apply(event, to: t.status)
            try await TransferStore.close(id, status: next, by: caller.userUUID, reason: reason, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("transfer.\(next.rawValue)", "transfer", id, ["reason": AuditValue(reason)]),
                on: connection,
                logger: logger
            )
            // The outcome, to both agencies.
            for agency in [t.toAgencyID, t.fromAgencyID] {
                try await AgencyTexts.send(
                    event == .reject ? "transfer_refused" : "transfer_cancelled",
                    to: agency,
                    ["worker": t.workerName, "agency": t.toAgencyName],
                    key: "transfer-\(next.rawValue)-\(id.uuidString.lowercased())-\(agency.uuidString.lowercased())",
                    on: connection,
                    logger: logger
                )
            }
            guard let updated = try await TransferStore.get(id, on: connection, logger: logger) else { throw RegistryError.notFound("Transfer") }
            return View(updated, for: who)
        }
    }

    /// The agency in custody seals its tenure with a final assessment; custody moves.
    public func seal(_ id: UUID, final assessment: WorkerService.Assessment, caller: Caller, logger: Logger) async throws -> View {
        let a = try TenureAssessment.validate(assessment)
        guard a.ethicsRating != nil else {
            throw RegistryError.invalid("ethics_rating", "The final assessment needs an ethics rating (1 to 5).", code: "missing_field")
        }
        return try await database.transaction(logger: logger) { connection in
            guard let t = try await TransferStore.lock(id, on: connection, logger: logger) else { throw RegistryError.notFound("Transfer") }
            guard try await party(t, caller: caller, write: true, on: connection, logger: logger) == .from else {
                throw RegistryError(.forbidden, code: "not_a_party", message: "Only the agency in custody seals its tenure.")
            }
            _ = try TransferMachine.apply(.seal, to: t.status)
            try await moveCustody(t, how: "agency", assessment: a, by: caller.userUUID, caller: caller, on: connection, logger: logger)
            guard let updated = try await TransferStore.get(id, on: connection, logger: logger) else { throw RegistryError.notFound("Transfer") }
            return View(updated)
        }
    }

    func moveCustody(
        _ t: TransferStore.Transfer,
        how: String,
        assessment: TenureStore.Assessment?,
        by: UUID?,
        caller: Caller,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws {
        let today = clock.today.iso
        // Lock the worker row first: registration, qualifications and custody all go through it.
        _ = try await WorkerStore.get(t.workerID, forUpdate: true, on: connection, logger: logger)
        guard let tenure = try await TenureStore.openTenure(workerID: t.workerID, on: connection, logger: logger),
            tenure.agencyID == t.fromAgencyID
        else {
            throw RegistryError(.conflict, code: "custody_changed", message: "The worker's custody changed since the transfer was requested.")
        }
        if let assessment { try await TenureStore.assess(tenure.id, assessment, on: connection, logger: logger) }
        try await TenureStore.seal(tenure.id, how: how, by: by, endedOn: today, on: connection, logger: logger)
        try await TransferStore.complete(t.id, how: how == "agency" ? "sealed" : "deadline", on: connection, logger: logger)
        if how != "agency" {
            // The agency left a consented transfer unsealed until the deadline moved the file.
            try await DemeritService.recordBySystem(
                "transfer_unanswered",
                agencyID: t.fromAgencyID,
                workerID: t.workerID,
                evidence:
                    "Transfer \(t.id.text): the worker consented; the tenure was not sealed within \(policy.sealDeadlineDays) days and the deadline moved the file on \(today).",
                eventKey: "transfer-deadline-\(t.id.text)",
                policy: demerits,
                on: connection,
                logger: logger
            )
        }
        try await WorkerStore.setAgency(t.workerID, agencyID: t.toAgencyID, on: connection, logger: logger)
        try await TenureStore.open(workerID: t.workerID, agencyID: t.toAgencyID, startedOn: today, on: connection, logger: logger)
        try await AuditStore.append(
            caller.event(
                "tenure.sealed",
                "worker",
                t.workerID,
                ["tenure": .string(tenure.id.text), "how": .string(how)]
            ),
            on: connection,
            logger: logger
        )
        try await AuditStore.append(
            caller.event(
                "transfer.completed",
                "transfer",
                t.id,
                [
                    "worker": .string(t.workerID.text), "from": .string(t.fromAgencyID.text), "to": .string(t.toAgencyID.text),
                    "how": .string(how == "agency" ? "sealed" : "deadline"),
                ]
            ),
            on: connection,
            logger: logger
        )
        for agency in [t.toAgencyID, t.fromAgencyID] {
            try await AgencyTexts.send(
                "transfer_completed",
                to: agency,
                ["worker": t.workerName, "from": t.fromAgencyName, "to": t.toAgencyName, "date": today],
                key: "transfer-completed-\(t.id.uuidString.lowercased())-\(agency.uuidString.lowercased())",
                on: connection,
                logger: logger
            )
        }
    }

    /// Time: requests the worker has not answered within `request_expiry_days` lapse (`expired`),
    /// freeing her file for another request; audited, and both agencies are told by e-mail.
    /// Returns how many lapsed (0 when none is due).
    public func expireUnanswered(logger: Logger) async throws -> Int {
        let before = clock.now.addingTimeInterval(-Double(policy.requestExpiryDays) * 86_400)
        return try await database.transaction(logger: logger) { connection in
            let ids = try await TransferStore.claimUnanswered(requestedBefore: before, limit: 100, on: connection, logger: logger)
            for id in ids {
                guard let t = try await TransferStore.get(id, on: connection, logger: logger) else { continue }
                let next = try TransferMachine.apply(.expire, to: t.status)
                try await TransferStore.close(
                    id,
                    status: next,
                    by: nil,
                    reason: "Unanswered for \(policy.requestExpiryDays) days.",
                    on: connection,
                    logger: logger
                )
                try await AuditStore.append(
                    Caller.system.event("transfer.expired", "transfer", id, ["days": .int(policy.requestExpiryDays)]),
                    on: connection,
                    logger: logger
                )
                let parameters = ["worker": t.workerName, "agency": t.toAgencyName, "days": String(policy.requestExpiryDays)]
                for agency in [t.toAgencyID, t.fromAgencyID] {
                    try await AgencyTexts.send(
                        "transfer_lapsed",
                        to: agency,
                        parameters,
                        key: "transfer-lapsed-\(id.uuidString.lowercased())-\(agency.uuidString.lowercased())",
                        on: connection,
                        logger: logger
                    )
                }
            }
            return ids.count
        }
    }

    /// Completes consented transfers whose sealing deadline passed; the old tenure is marked
    /// "sealed by deadline". Safe on several nodes (SKIP LOCKED) and idempotent.
    @discardableResult
    public func completeOverdue(logger: Logger) async throws -> Int {
        try await database.transaction(logger: logger) { connection in
            let ids = try await TransferStore.claimOverdue(limit: 100, on: connection, logger: logger)
            for id in ids {
                guard let t = try await TransferStore.get(id, on: connection, logger: logger), t.status == .consented else { continue }
                try await moveCustody(t, how: "deadline", assessment: nil, by: nil, caller: .system, on: connection, logger: logger)
            }
            return ids.count
        }
    }
}

/// Who a caller is to a transfer: the requesting agency, the agency in custody, the worker, an administrator.
enum TransferParty { case to, from, worker, admin }

/// A transfer as its parties see it.
public struct TransferView: Sendable, Encodable {
    public var id: String
    public var workerId: String
    /// Withheld from the requesting agency until the worker consents (as is the agency she is with).
    public var workerName: String?
    public var fromAgencyId: String?
    public var fromAgencyName: String?
    public var toAgencyId: String
    public var toAgencyName: String
    public var status: String
    public var requestedAt: Date
    public var consentedAt: Date?
    public var consentMethod: String?
    public var sealDeadline: Date?
    public var completedAt: Date?
    public var completedHow: String?
    public var closeReason: String?
    public var allowed: [String]

    init(_ t: TransferStore.Transfer) {
        id = t.id.text
        workerId = t.workerID.text
        workerName = t.workerName
        fromAgencyId = t.fromAgencyID.text
        fromAgencyName = t.fromAgencyName
        toAgencyId = t.toAgencyID.text
        toAgencyName = t.toAgencyName
        status = t.status.rawValue
        requestedAt = t.requestedAt
        consentedAt = t.consentedAt
        consentMethod = t.consentMethod
        sealDeadline = t.sealDeadline
        completedAt = t.completedAt
        completedHow = t.completedHow
        closeReason = t.closeReason
        allowed = TransferMachine.allowed(in: t.status).map(\.rawValue)
    }

    /// The transfer as `party` may see it: until she consents, the requesting agency learns
    /// nothing of the person behind the ID number it typed (no name, no agency), so that a
    /// request is no look-up of who has a file where.
    init(_ t: TransferStore.Transfer, for party: TransferParty) {
        self.init(t)
        if party == .to, t.consentedAt == nil {
            workerName = nil
            fromAgencyId = nil
            fromAgencyName = nil
        }
    }
}
