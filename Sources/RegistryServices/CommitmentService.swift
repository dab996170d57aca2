import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Credit commitments (信用承诺, `Policies/commitments.yaml`): an agency's staff member records
/// the agency's commitment as its legal representative signed it, and accepts their own; both
/// are kept per version with the time, audited, and shown on the agency's page.
public struct CommitmentService: Sendable {
    let database: Database
    let policy: CommitmentPolicy

    /// One commitment as the agency's page shows it: the text in force and whether it is signed.
    public struct Item: Sendable, Equatable, Encodable {
        public var kind: String
        public var version: String
        public var zh: String
        public var en: String
        public var accepted: Bool
        public var representative: String?
        public var acceptedBy: String?
        public var acceptedAt: Date?
    }

    public struct Entry: Sendable, Equatable, Encodable {
        public var kind: String
        public var version: String
        public var by: String
        public var representative: String?
        public var acceptedAt: Date
    }

    public struct View: Sendable, Equatable, Encodable {
        /// The agency's commitment and the caller's own, each in the version in force.
        public var agency: Item
        public var staff: Item
        /// Every commitment recorded for the agency (its own and its staff's), newest first.
        public var history: [Entry]
    }

    public struct Acceptance: Sendable, Decodable {
        public var kind: String
        public var version: String
        public var representative: String?

        public init(kind: String, version: String, representative: String? = nil) {
            self.kind = kind
            self.version = version
            self.representative = representative
        }
    }

    /// Only the version in force can be signed: an older one is a 409 naming the current version.
    static func requireInForce(_ version: String, of text: CommitmentPolicy.Text, field: String = "version") throws(RegistryError) {
        guard version == text.version else {
            throw RegistryError(
                .conflict,
                code: "stale_version",
                message: "The commitment in force is version \(text.version); read it and accept that one.",
                field: field
            )
        }
    }

    func staffCaller(_ caller: Caller) throws(RegistryError) -> (agency: UUID, user: UUID) {
        guard caller.principal.role == .agencyStaff, let agency = caller.principal.agencyID, let user = caller.userUUID else {
            throw .forbidden
        }
        return (agency.uuid, user)
    }

    public func view(caller: Caller, logger: Logger) async throws -> View {
        let (agency, user) = try staffCaller(caller)
        let entries = try await CommitmentStore.forAgency(agency, database: database, logger: logger)
        func item(_ kind: CommitmentPolicy.Kind) -> Item {
            let text = policy.text(kind)
            let signed = entries.first { $0.kind == kind.rawValue && $0.version == text.version && (kind == .agency || $0.userID == user) }
            return Item(
                kind: kind.rawValue,
                version: text.version,
                zh: text.zh,
                en: text.en,
                accepted: signed != nil,
                representative: signed?.representative,
                acceptedBy: signed?.userName,
                acceptedAt: signed?.acceptedAt
            )
        }
        return View(
            agency: item(.agency),
            staff: item(.staff),
            history: entries.map {
                Entry(kind: $0.kind, version: $0.version, by: $0.userName, representative: $0.representative, acceptedAt: $0.acceptedAt)
            }
        )
    }

    /// Records the caller's acceptance of the staff commitment, or the agency's commitment as
    /// its legal representative signed it (`representative`: the name). Only the version in force
    /// can be accepted; accepting it again changes nothing.
    public func accept(_ input: Acceptance, caller: Caller, logger: Logger) async throws -> View {
        let (agency, user) = try staffCaller(caller)
        guard let kind = CommitmentPolicy.Kind(rawValue: input.kind) else {
            throw RegistryError.invalid("kind", "kind is agency or staff.")
        }
        let current = policy.text(kind).version
        try Self.requireInForce(input.version, of: policy.text(kind))
        var representative: String?
        if kind == .agency {
            representative = try Input.text(input.representative, field: "representative", max: 100)
        } else if input.representative != nil {
            throw RegistryError.invalid("representative", "Only the agency's commitment is signed by its legal representative.")
        }
        try await database.transaction(logger: logger) { connection in
            let recorded = try await CommitmentStore.record(
                kind: kind.rawValue,
                version: current,
                agencyID: agency,
                userID: user,
                representative: representative,
                on: connection,
                logger: logger
            )
            guard recorded else { return }
            var details: [String: AuditValue] = ["kind": .string(kind.rawValue), "version": .string(current)]
            if let representative { details["representative"] = .string(representative) }
            try await AuditStore.append(
                caller.event(kind == .agency ? "commitment.agency_signed" : "commitment.staff_accepted", "agency", agency, details),
                on: connection,
                logger: logger
            )
        }
        return try await view(caller: caller, logger: logger)
    }
}
