import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Cases against agencies whose demerit points reached the case threshold, adjudicated like a
/// worker's: an administrator proposes an outcome with a reason, the agency is told and may object
/// within `case_objection_days`, and a second administrator — never the proposer — decides. A
/// decision to suspend suspends the agency (it reads but registers and changes nothing).
extension DemeritService {
    public struct AgencyCase: Sendable, Equatable, Encodable {
        public var id: UUID
        public var agencyId: UUID
        public var agencyName: String
        public var openedAt: Date
        public var points: Int
        public var state: String
        public var proposal: String?
        public var proposalReason: String?
        public var objectionUntil: Date?
        public var objection: String?
        public var outcome: String?
        public var decisionReason: String?
        public var decidedAt: Date?

        init(_ r: AgencyCaseStore.Row) {
            id = r.id
            agencyId = r.agencyID
            agencyName = r.agencyName
            openedAt = r.openedAt
            points = r.points
            state = r.state
            proposal = r.proposal
            proposalReason = r.proposalReason
            objectionUntil = r.objectionUntil
            objection = r.objection
            outcome = r.outcome
            decisionReason = r.decisionReason
            decidedAt = r.decidedAt
        }
    }

    /// Opens a case when the agency's level reaches `case` (inside that transaction): audited and told.
    static func openCase(_ agencyID: UUID, points: Int, on connection: DatabaseConnection, logger: Logger) async throws {
        guard let id = try await AgencyCaseStore.open(agencyID: agencyID, points: points, on: connection, logger: logger) else { return }
        try await AuditStore.append(
            Caller.system.event("agency_case.opened", "agency_case", id, ["agency": .string(agencyID.text), "points": .int(points)]),
            on: connection,
            logger: logger
        )
        try await AgencyTexts.send(
            "agency_case_opened",
            to: agencyID,
            ["points": String(points)],
            key: "agency-case-opened-\(id.text)",
            on: connection,
            logger: logger
        )
    }

    /// Administrators: the cases not yet decided. Agency staff: their agency's cases.
    public func cases(caller: Caller, logger: Logger) async throws -> [AgencyCase] {
        try await database.withConnection { connection in
            switch caller.principal.role {
            case .admin:
                return try await AgencyCaseStore.list(agencyID: nil, on: connection, logger: logger).map(AgencyCase.init)
            case .agencyStaff:
                let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
                return try await AgencyCaseStore.list(agencyID: agency.id, on: connection, logger: logger).map(AgencyCase.init)
            default:
                throw RegistryError.forbidden
            }
        }
    }

    /// An administrator proposes the outcome of an open case, with a reason; the objection window opens.
    public func proposeCase(_ id: UUID, outcome: String, reason: String, caller: Caller, logger: Logger) async throws -> AgencyCase {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        guard let outcome = AgencyCaseOutcome(rawValue: outcome) else {
            throw RegistryError.invalid("proposal", "The proposal is suspend_agency or dismiss.")
        }
        let reason = try Input.text(reason, field: "reason", max: 2000)!
        return try await database.transaction(logger: logger) { connection in
            guard let row = try await AgencyCaseStore.get(id, lock: true, on: connection, logger: logger) else {
                throw RegistryError.notFound("Case")
            }
            guard AgencyCaseState(rawValue: row.state)?.applying(.propose) != nil else {
                throw RegistryError(.conflict, code: "case_not_open", message: "This case was already proposed or decided.")
            }
            try await AgencyCaseStore.propose(
                id,
                proposal: outcome.rawValue,
                reason: reason,
                by: admin,
                objectionDays: policy.caseObjectionDays,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("agency_case.proposed", "agency_case", id, ["proposal": .string(outcome.rawValue), "reason": .string(reason)]),
                on: connection,
                logger: logger
            )
            try await AgencyTexts.send(
                "agency_case_proposed",
                to: row.agencyID,
                ["proposal": outcome.zh, "proposal_en": outcome.en, "reason": reason, "days": String(policy.caseObjectionDays)],
                key: "agency-case-proposed-\(id.text)",
                on: connection,
                logger: logger
            )
            return AgencyCase(try await AgencyCaseStore.get(id, lock: false, on: connection, logger: logger)!)
        }
    }

    /// The agency objects to the proposal, once, within the window (its staff).
    public func objectToCase(_ id: UUID, text: String, caller: Caller, logger: Logger) async throws -> AgencyCase {
        let text = try Input.text(text, field: "objection", max: 4000)!
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        let now = clock.now
        return try await database.transaction(logger: logger) { connection in
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
            guard let row = try await AgencyCaseStore.get(id, lock: true, on: connection, logger: logger), row.agencyID == agency.id else {
                throw RegistryError.notFound("Case")
            }
            let open = row.objectionUntil.map { $0 > now } ?? false
            guard AgencyCaseState(rawValue: row.state)?.applying(.object(windowOpen: open)) != nil else {
                throw RegistryError(.conflict, code: "objection_closed", message: "This case takes no objection now.")
            }
            try await AgencyCaseStore.object(id, text: text, by: user, on: connection, logger: logger)
            try await AuditStore.append(caller.event("agency_case.objected", "agency_case", id), on: connection, logger: logger)
            return AgencyCase(try await AgencyCaseStore.get(id, lock: false, on: connection, logger: logger)!)
        }
    }

    /// A second administrator decides: confirm the proposal or not (then dismissed), with a reason.
    /// A confirmed suspension suspends the agency.
    public func decideCase(_ id: UUID, confirm: Bool, reason: String, caller: Caller, logger: Logger) async throws -> AgencyCase {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let reason = try Input.text(reason, field: "reason", max: 2000)!
        let now = clock.now
        return try await database.transaction(logger: logger) { connection in
            guard let row = try await AgencyCaseStore.get(id, lock: true, on: connection, logger: logger) else {
                throw RegistryError.notFound("Case")
            }
            guard row.proposedBy != admin else {
                throw RegistryError(.forbidden, code: "four_eyes", message: "Another administrator decides a case you proposed.")
            }
            let open = row.objectionUntil.map { $0 > now } ?? false
            guard AgencyCaseState(rawValue: row.state)?.applying(.decide(windowOpen: open)) != nil else {
                let code = row.state == "proposed" ? "objection_window_open" : "case_not_proposed"
                throw RegistryError(.conflict, code: code, message: "This case cannot be decided now (\(row.state)).")
            }
            let outcome = confirm ? (row.proposal ?? AgencyCaseOutcome.dismiss.rawValue) : AgencyCaseOutcome.dismiss.rawValue
            let words = AgencyCaseOutcome(rawValue: outcome) ?? .dismiss
            try await AgencyCaseStore.decide(id, outcome: outcome, reason: reason, by: admin, on: connection, logger: logger)
            if outcome == AgencyCaseOutcome.suspendAgency.rawValue {
                try await AgencyStore.setStatus(row.agencyID, status: "suspended", reason: reason, by: admin, on: connection, logger: logger)
            }
            try await AuditStore.append(
                caller.event("agency_case.decided", "agency_case", id, ["outcome": .string(outcome), "reason": .string(reason)]),
                on: connection,
                logger: logger
            )
            try await AgencyTexts.send(
                "agency_case_decided",
                to: row.agencyID,
                ["outcome": words.zh, "outcome_en": words.en, "reason": reason],
                key: "agency-case-decided-\(id.text)",
                on: connection,
                logger: logger
            )
            return AgencyCase(try await AgencyCaseStore.get(id, lock: false, on: connection, logger: logger)!)
        }
    }
}
