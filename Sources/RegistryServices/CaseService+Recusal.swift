import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Recusal: administrators declare their ties — to a worker, to an agency, or to one case — and
/// a tie keeps them from every step of the cases it touches (the machine's `exclusions`).
extension CaseService {
    public struct TieDeclaration: Sendable, Decodable {
        public var workerId: UUID?
        public var agencyId: UUID?
        public var caseId: UUID?
        /// The tie in her words, with its reason ("my sister-in-law", "I worked for this agency until 2024").
        public var description: String

        public init(workerId: UUID? = nil, agencyId: UUID? = nil, caseId: UUID? = nil, description: String) {
            self.workerId = workerId
            self.agencyId = agencyId
            self.caseId = caseId
            self.description = description
        }

        enum CodingKeys: String, CodingKey {
            case description
            case workerId = "worker_id"
            case agencyId = "agency_id"
            case caseId = "case_id"
        }
    }

    public struct TieView: Sendable, Encodable {
        public var id: String
        public var adminId: String
        public var adminName: String
        public var workerId: String?
        public var agencyId: String?
        public var caseId: String?
        public var description: String
        public var declaredAt: Date
        public var endedAt: Date?
        public var endReason: String?
        public var mine: Bool
    }

    /// Declares a tie of the calling administrator; audited. Exactly one of worker, agency, case.
    public func declareTie(_ d: TieDeclaration, caller: Caller, logger: Logger) async throws -> UUID {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let description = try Input.text(d.description, field: "description", max: 500)!
        guard [d.workerId, d.agencyId, d.caseId].compactMap({ $0 }).count == 1 else {
            throw RegistryError.invalid("worker_id", "Name exactly one: the worker, the agency or the case you are tied to.", code: "missing_field")
        }
        return try await database.transaction(logger: logger) { connection in
            if let w = d.workerId, try await WorkerStore.get(w, on: connection, logger: logger) == nil { throw RegistryError.notFound("Worker") }
            if let a = d.agencyId, try await AgencyStore.find(id: a, on: connection, logger: logger) == nil { throw RegistryError.notFound("Agency") }
            if let c = d.caseId, try await Self.load(c, lock: false, on: connection, logger: logger) == nil { throw RegistryError.notFound("Case") }
            let id = try await CaseStore.declareTie(
                admin: admin,
                workerID: d.workerId,
                agencyID: d.agencyId,
                caseID: d.caseId,
                description: description,
                on: connection,
                logger: logger
            )
            var details: [String: AuditValue] = ["description": .string(description)]
            if let w = d.workerId { details["worker"] = .string(w.text) }
            if let a = d.agencyId { details["agency"] = .string(a.text) }
            if let c = d.caseId { details["case"] = .string(c.text) }
            try await AuditStore.append(caller.event("admin.tie_declared", "user", admin, details), on: connection, logger: logger)
            return id
        }
    }

    /// Ends one of the caller's own ties (it no longer holds); the record stays.
    public func endTie(_ id: UUID, reason: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let reason = try Input.text(reason, field: "reason", max: 500)!
        try await database.transaction(logger: logger) { connection in
            guard try await CaseStore.endTie(id, admin: admin, reason: reason, on: connection, logger: logger) else {
                throw RegistryError.notFound("Tie")
            }
            try await AuditStore.append(
                caller.event("admin.tie_ended", "user", admin, ["tie": .string(id.text), "reason": .string(reason)]),
                on: connection,
                logger: logger
            )
        }
    }

    /// Every administrator's ties, newest first: they are no secret among administrators.
    public func ties(caller: Caller, logger: Logger) async throws -> [TieView] {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await CaseStore.listTies(admin: nil, on: connection, logger: logger).map {
                TieView(
                    id: $0.id.text,
                    adminId: $0.adminID.text,
                    adminName: $0.adminName,
                    workerId: $0.workerID?.text,
                    agencyId: $0.agencyID?.text,
                    caseId: $0.caseID?.text,
                    description: $0.description,
                    declaredAt: $0.declaredAt,
                    endedAt: $0.endedAt,
                    endReason: $0.endReason,
                    mine: $0.adminID == caller.userUUID
                )
            }
        }
    }
}
