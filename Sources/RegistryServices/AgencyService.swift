import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Agencies: applying, approval by administrators, staff accounts.
public struct AgencyService: Sendable {
    let database: Database
    let hasher: PasswordHasher
    let passwordMinLength: Int

    public struct Application: Sendable, Decodable {
        public var name: String
        public var uscc: String
        public var regionCode: String
        public var contactName: String
        public var contactPhone: String?
        public var contactEmail: String
        public var password: String
        /// The legal representative who signed the agency's credit commitment, and the version
        /// of `Policies/commitments.yaml` she signed (the one in force).
        public var representative: String
        public var commitmentVersion: String

        public init(
            name: String,
            uscc: String,
            regionCode: String,
            contactName: String,
            contactPhone: String?,
            contactEmail: String,
            password: String,
            representative: String,
            commitmentVersion: String
        ) {
            self.name = name
            self.uscc = uscc
            self.regionCode = regionCode
            self.contactName = contactName
            self.contactPhone = contactPhone
            self.contactEmail = contactEmail
            self.password = password
            self.representative = representative
            self.commitmentVersion = commitmentVersion
        }

        enum CodingKeys: String, CodingKey {
            case name, uscc, password, representative
            case commitmentVersion = "commitment_version"
            case regionCode = "region_code"
            case contactName = "contact_name"
            case contactPhone = "contact_phone"
            case contactEmail = "contact_email"
        }
    }

    let authentication: AuthenticationPolicy
    let commitments: CommitmentPolicy

    init(database: Database, hasher: PasswordHasher, authentication: AuthenticationPolicy, commitments: CommitmentPolicy) {
        self.database = database
        self.hasher = hasher
        self.commitments = commitments
        self.passwordMinLength = authentication.passwordMinLength
        self.authentication = authentication
    }

    /// An agency applies; its contact gets a staff account that works once the agency is approved.
    public func apply(
        _ a: Application,
        caller: Caller,
        clientAddress: String? = nil,
        logger: Logger
    ) async throws -> (agencyID: AgencyID, userID: UserID) {
        let name = try Input.name(a.name, field: "name", max: 200)!
        let code = try SocialCreditCode(a.uscc)
        let region = a.regionCode.trimmingWhitespace()
        guard region.count == 6, region.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw RegistryError.invalid("region_code", "The region is a 6-digit administrative division code, e.g. 320102.")
        }
        let contact = try Input.name(a.contactName, field: "contact_name", max: 100)!
        guard let email = Contact.normalizedEmail(a.contactEmail) else {
            throw RegistryError.invalid("contact_email", "Enter a valid e-mail address.")
        }
        var phone: String?
        if let raw = a.contactPhone, !raw.trimmingWhitespace().isEmpty {
            guard let p = Contact.normalizedPhone(raw) else { throw RegistryError.invalid("contact_phone", "Enter a valid phone number.") }
            phone = p
        }
        let representative = try Input.text(a.representative, field: "representative", max: 100)!
        try CommitmentService.requireInForce(a.commitmentVersion, of: commitments.agency, field: "commitment_version")
        guard a.password.count >= passwordMinLength, a.password.utf8.count <= PasswordHasher.maxPasswordBytes else {
            throw RegistryError.invalid("password", "Use at least \(passwordMinLength) characters.", code: "password_too_short")
        }
        try await RegistrationThrottle(database: database, policy: authentication).admit(clientAddress: clientAddress, logger: logger)
        let hash = try await hasher.hash(a.password)
        return try await database.transaction(logger: logger) { connection in
            let agencyID = try await AgencyStore.create(
                .init(name: name, uscc: code.value, regionCode: region, contactName: contact, contactPhone: phone, contactEmail: email),
                on: connection,
                logger: logger
            )
            let userID = try await AccountStore.create(
                .init(role: .agencyStaff, email: email, phone: phone, displayName: contact, passwordHash: hash, agencyID: agencyID),
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("agency.applied", "agency", agencyID, ["uscc": .string(code.value), "name": .string(name)]),
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("user.created", "user", userID, ["role": "agency_staff", "agency": .string(agencyID.text)]),
                on: connection,
                logger: logger
            )
            // The agency's credit commitment, signed by its legal representative, is part of the application.
            _ = try await CommitmentStore.record(
                kind: CommitmentPolicy.Kind.agency.rawValue,
                version: commitments.agency.version,
                agencyID: agencyID,
                userID: userID,
                representative: representative,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "commitment.agency_signed",
                    "agency",
                    agencyID,
                    ["kind": "agency", "version": .string(commitments.agency.version), "representative": .string(representative)]
                ),
                on: connection,
                logger: logger
            )
            return (AgencyID(agencyID), UserID(userID))
        }
    }

    public enum Decision: String, Sendable, CaseIterable {
        case approve, reject, suspend, reinstate

        var from: Set<String> {
            switch self {
            case .approve, .reject: ["pending"]
            case .suspend: ["approved"]
            case .reinstate: ["suspended"]
            }
        }

        var to: String {
            switch self {
            case .approve, .reinstate: "approved"
            case .reject: "rejected"
            case .suspend: "suspended"
            }
        }

        /// The e-mail that tells the agency (`agency_<decision>`).
        var message: String {
            switch self {
            case .approve: "agency_approved"
            case .reject: "agency_rejected"
            case .suspend: "agency_suspended"
            case .reinstate: "agency_reinstated"
            }
        }
    }

    /// An agency as the API and the pages show it.
    public struct Agency: Sendable, Equatable, Encodable {
        public var id: UUID
        public var name: String
        public var uscc: String
        public var regionCode: String
        public var contactName: String
        public var contactPhone: String?
        public var contactEmail: String?
        public var status: String
        public var statusReason: String?
        public var appliedAt: Date

        init(_ row: AgencyStore.Agency) {
            id = row.id
            name = row.name
            uscc = row.uscc
            regionCode = row.regionCode
            contactName = row.contactName
            contactPhone = row.contactPhone
            contactEmail = row.contactEmail
            status = row.status
            statusReason = row.statusReason
            appliedAt = row.appliedAt
        }
    }

    /// An administrator decides on an agency; a wrong state is a 409 naming what is possible.
    public func decide(_ agencyID: AgencyID, _ decision: Decision, reason: String?, caller: Caller, logger: Logger) async throws -> Agency {
        let reason = try Input.text(reason, field: "reason", max: 1000, required: decision == .suspend || decision == .reject)
        guard let admin = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.transaction(logger: logger) { connection in
            guard var agency = try await AgencyStore.find(id: agencyID.uuid, forUpdate: true, on: connection, logger: logger) else {
                throw RegistryError.notFound("Agency")
            }
            guard decision.from.contains(agency.status) else {
                let possible = Decision.allCases.filter { $0.from.contains(agency.status) }.map(\.rawValue)
                throw RegistryError(
                    .conflict,
                    code: "illegal_transition",
                    message: "A \(agency.status) agency cannot be '\(decision.rawValue)'d. Possible: \(possible.joined(separator: ", ")).",
                    details: ["status": agency.status, "allowed": possible.joined(separator: ",")]
                )
            }
            try await AgencyStore.setStatus(agencyID.uuid, status: decision.to, reason: reason, by: admin, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event(
                    "agency.\(decision.rawValue)",
                    "agency",
                    agencyID.uuid,
                    ["from": .string(agency.status), "to": .string(decision.to), "reason": AuditValue(reason)]
                ),
                on: connection,
                logger: logger
            )
            try await AgencyTexts.send(
                decision.message,
                to: agencyID.uuid,
                ["agency": agency.name, "reason": reason ?? "-"],
                key: "agency-\(decision.rawValue)-\(agencyID.text)-\(UUID().uuidString.lowercased())",
                on: connection,
                logger: logger
            )
            agency.status = decision.to
            agency.statusReason = reason
            return Agency(agency)
        }
    }

    /// Staff of an approved agency (or an administrator) adds a colleague.
    public func addStaff(
        _ agencyID: AgencyID,
        email: String,
        displayName: String,
        password: String,
        caller: Caller,
        logger: Logger
    ) async throws -> UserID {
        guard let email = Contact.normalizedEmail(email) else { throw RegistryError.invalid("email", "Enter a valid e-mail address.") }
        let name = try Input.name(displayName, field: "display_name", max: 100)!
        guard password.count >= passwordMinLength else {
            throw RegistryError.invalid("password", "Use at least \(passwordMinLength) characters.", code: "password_too_short")
        }
        let hash = try await hasher.hash(password)
        return try await database.transaction(logger: logger) { connection in
            let agency = try await AgencyAccess.agency(agencyID.uuid, caller: caller, write: true, on: connection, logger: logger)
            let id = try await AccountStore.create(
                .init(
                    role: .agencyStaff,
                    email: email,
                    phone: nil,
                    displayName: name,
                    passwordHash: hash,
                    agencyID: agency.id
                ),
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("user.created", "user", id, ["role": "agency_staff", "agency": .string(agency.id.text)]),
                on: connection,
                logger: logger
            )
            return UserID(id)
        }
    }

    public func get(_ agencyID: AgencyID, caller: Caller, logger: Logger) async throws -> Agency {
        Agency(try await getRow(agencyID.uuid, caller: caller, logger: logger))
    }

    func getRow(_ agencyID: UUID, caller: Caller, logger: Logger) async throws -> AgencyStore.Agency {
        try await database.withConnection { connection in
            if caller.principal.role == .admin {
                guard let agency = try await AgencyStore.find(id: agencyID, on: connection, logger: logger) else {
                    throw RegistryError.notFound("Agency")
                }
                return agency
            }
            guard caller.agencyUUID == agencyID, let agency = try await AgencyStore.find(id: agencyID, on: connection, logger: logger) else {
                throw RegistryError.notFound("Agency")
            }
            return agency
        }
    }

    public func list(status: String?, logger: Logger) async throws -> [Agency] {
        if let status, !["pending", "approved", "suspended", "rejected"].contains(status) {
            throw RegistryError.invalid("status", "status is pending, approved, suspended or rejected.")
        }
        return try await database.withConnection { connection in
            try await AgencyStore.list(status: status, limit: 500, on: connection, logger: logger).map(Agency.init)
        }
    }
}

/// The one place that decides whether agency staff may act for their agency.
enum AgencyAccess {
    /// The caller's agency. Approved agencies read and write; suspended ones only read;
    /// pending and rejected ones do neither. Administrators pass for any agency.
    static func agency(
        _ agencyID: UUID?,
        caller: Caller,
        write: Bool,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws -> AgencyStore.Agency {
        let id: UUID
        if caller.principal.role == .admin, let agencyID {
            id = agencyID
        } else {
            guard caller.principal.role == .agencyStaff, let own = caller.agencyUUID, agencyID == nil || agencyID == own else {
                throw RegistryError.notFound("Agency")
            }
            id = own
        }
        guard let agency = try await AgencyStore.find(id: id, on: connection, logger: logger) else { throw RegistryError.notFound("Agency") }
        if caller.principal.role == .admin { return agency }
        switch agency.status {
        case "approved":
            return agency
        case "suspended" where !write:
            return agency
        case "suspended":
            throw RegistryError(.forbidden, code: "agency_suspended", message: "Your agency is suspended: you can read but not change files.")
        default:
            throw RegistryError(.forbidden, code: "agency_not_approved", message: "Your agency's application has not been approved.")
        }
    }
}
