import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// A person's phone number and e-mail address, which change: she asks from her account, a code
/// goes to the new number or address, and the change takes effect when she enters it (the old one
/// is told). An administrator changes a worker's number after checking her identity in person
/// (reason recorded, audited, both numbers told). One number or address belongs to one account:
/// a worker's number can never also be an agency staff member's.
public struct ContactService: Sendable {
    let database: Database
    let clock: RegistryClock
    let policy: ReportPolicy
    /// Changes one account may ask for per hour (each sends a code).
    public static let requestsPerHour = 3
    /// Wrong codes allowed for one change.
    public static let attempts = 5

    init(database: Database, clock: RegistryClock, policy: ReportPolicy) {
        self.database = database
        self.clock = clock
        self.policy = policy
    }

    public enum Kind: String, Sendable { case phone, email }

    /// Where the code went (masked) and until when it works.
    public struct Requested: Sendable, Encodable, Equatable {
        public var kind: String
        public var sentTo: String
        public var expiresAt: Date

        enum CodingKeys: String, CodingKey {
            case kind
            case sentTo = "sent_to"
            case expiresAt = "expires_at"
        }
    }

    /// The account's contact details after a change.
    public struct Contact: Sendable, Encodable, Equatable {
        public var phone: String?
        public var email: String?
        /// The phone number proved itself by a code sent to it (or, for a worker's, by an
        /// administrator's check in person). A household confirms placements only with one.
        public var phoneVerified: Bool

        enum CodingKeys: String, CodingKey {
            case phone, email
            case phoneVerified = "phone_verified"
        }
    }

    /// The caller's phone number and e-mail address.
    public func current(caller: Caller, logger: Logger) async throws -> Contact {
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            guard let account = try await AccountStore.find(id: user, on: connection, logger: logger) else { throw RegistryError.forbidden }
            let verified = try await ContactStore.phoneVerifiedAt(userID: user, on: connection, logger: logger) != nil
            return Contact(phone: account.phone, email: account.email, phoneVerified: verified)
        }
    }

    static let notHousehold = RegistryError(
        .conflict,
        code: "phone_not_household",
        message: "This number is an agency's or is on a worker's file. A household verifies its own number.",
        field: "phone"
    )

    static let taken = RegistryError(
        .conflict,
        code: "contact_taken",
        message: "This number or address belongs to another account. Each person's number and address are her own."
    )

    /// Asks to change the caller's phone number (`phone`) or e-mail address (`email`): a code is
    /// sent to the new one. Exactly one of them.
    public func requestChange(phone: String?, email: String?, caller: Caller, logger: Logger) async throws -> Requested {
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        let (kind, value): (Kind, String)
        switch (phone, email) {
        case (let p?, nil):
            guard let normalized = RegistryDomain.Contact.normalizedPhone(p) else {
                throw RegistryError.invalid("phone", "Enter a valid phone number.")
            }
            (kind, value) = (.phone, normalized)
        case (nil, let e?):
            guard let normalized = RegistryDomain.Contact.normalizedEmail(e) else {
                throw RegistryError.invalid("email", "Enter a valid e-mail address.")
            }
            (kind, value) = (.email, normalized)
        default:
            throw RegistryError.invalid("phone", "Give the new phone number or the new e-mail address (one of them).")
        }
        let code = TokenGenerator.numericCode(digits: 6)
        let minutes = policy.activationCodeMinutes
        let expires = clock.now.addingTimeInterval(Double(minutes) * 60)
        try await database.transaction(logger: logger) { connection in
            guard let account = try await AccountStore.find(id: user, on: connection, logger: logger) else { throw RegistryError.forbidden }
            let verifying = (kind == .phone ? account.phone : account.email) == value
            if verifying {
                // Asking for a code to one's own unverified number verifies it.
                let verifiedAt = kind == .phone ? try await ContactStore.phoneVerifiedAt(userID: user, on: connection, logger: logger) : nil
                guard kind == .phone, verifiedAt == nil else {
                    throw RegistryError.invalid(
                        kind.rawValue,
                        "This is already your \(kind == .phone ? "number" : "address").",
                        code: "same_contact"
                    )
                }
            }
            if try await ContactStore.holder(
                phone: kind == .phone ? value : nil,
                email: kind == .email ? value : nil,
                except: user,
                on: connection,
                logger: logger
            ) != nil {
                throw Self.taken
            }
            if kind == .phone, account.role == .employer,
                try await ContactStore.isAgencyOrWorkerPhone(value, on: connection, logger: logger)
            {
                throw Self.notHousehold
            }
            guard
                try await ContactStore.requests(userID: user, since: clock.now.addingTimeInterval(-3600), on: connection, logger: logger)
                    < Self.requestsPerHour
            else { throw RegistryError.throttled(retryAfterSeconds: 3600) }
            try await ContactStore.create(
                userID: user,
                kind: kind.rawValue,
                newValue: value,
                codeHash: Data(TokenGenerator.hash(code)),
                expiresAt: expires,
                on: connection,
                logger: logger
            )
            try await NotificationStore.enqueue(
                channel: kind == .phone ? "sms" : "email",
                recipient: value,
                template: verifying ? "phone_verification_code" : "contact_change_code",
                payload: ["code": code, "minutes": String(minutes)],
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "contact.change_requested",
                    "user",
                    user,
                    ["kind": .string(kind.rawValue), "to": .string(OutboxDispatcher.mask(value))]
                ),
                on: connection,
                logger: logger
            )
        }
        return Requested(kind: kind.rawValue, sentTo: OutboxDispatcher.mask(value), expiresAt: expires)
    }

    /// Enters the code sent to the new number or address: the change takes effect (for a worker,
    /// on her file too) and the old one is told. A wrong or expired code changes nothing.
    public func confirmChange(code: String, caller: Caller, logger: Logger) async throws -> Contact {
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        let wrong = RegistryError(.badRequest, code: "wrong_code", message: "The code is wrong or expired. Ask for a new one.", field: "code")
        let outcome: Result<Contact, RegistryError> = try await database.transaction(logger: logger) { connection in
            guard let pending = try await ContactStore.live(userID: user, now: clock.now, on: connection, logger: logger),
                pending.attempts < Self.attempts
            else { return .failure(wrong) }
            guard TokenGenerator.constantTimeEqual(Data(TokenGenerator.hash(code.trimmingWhitespace())).hex, pending.codeHash.hex) else {
                try await ContactStore.countFailure(pending.id, on: connection, logger: logger)
                return .failure(wrong)  // the count is kept: the transaction commits
            }
            guard let before = try await AccountStore.find(id: user, on: connection, logger: logger) else { throw RegistryError.forbidden }
            do {
                try await ContactStore.apply(userID: user, kind: pending.kind, value: pending.newValue, on: connection, logger: logger)
            } catch is ContactStore.ContactTaken {
                throw Self.taken
            }
            try await ContactStore.use(pending.id, on: connection, logger: logger)
            let old = pending.kind == "phone" ? before.phone : before.email
            let verifiedOnly = old == pending.newValue
            if let old, !verifiedOnly {
                try await NotificationStore.enqueue(
                    channel: pending.kind == "phone" ? "sms" : "email",
                    recipient: old,
                    template: "contact_changed",
                    payload: ["what": pending.kind == "phone" ? "手机号码" : "电子邮箱", "new": OutboxDispatcher.mask(pending.newValue)],
                    key: "contact-changed-\(pending.id.uuidString.lowercased())",
                    on: connection,
                    logger: logger
                )
            }
            try await AuditStore.append(
                caller.event(
                    verifiedOnly ? "contact.phone_verified" : "contact.changed",
                    "user",
                    user,
                    [
                        "kind": .string(pending.kind), "from": AuditValue(old.map(OutboxDispatcher.mask)),
                        "to": .string(OutboxDispatcher.mask(pending.newValue)),
                    ]
                ),
                on: connection,
                logger: logger
            )
            let verified = try await ContactStore.phoneVerifiedAt(userID: user, on: connection, logger: logger) != nil
            return .success(
                Contact(
                    phone: pending.kind == "phone" ? pending.newValue : before.phone,
                    email: pending.kind == "email" ? pending.newValue : before.email,
                    phoneVerified: verified
                )
            )
        }
        return try outcome.get()
    }

    /// An administrator changes a worker's phone number after checking her identity in person:
    /// the reason is recorded and audited, and both the old and the new number are told.
    public func adminChangeWorkerPhone(_ workerID: WorkerID, phone: String, reason: String, caller: Caller, logger: Logger) async throws -> Contact {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        guard let phone = RegistryDomain.Contact.normalizedPhone(phone) else { throw RegistryError.invalid("phone", "Enter a valid phone number.") }
        let reason = try Input.text(reason, field: "reason", max: 1000)!
        return try await database.transaction(logger: logger) { connection in
            guard try await WorkerStore.get(workerID.uuid, on: connection, logger: logger) != nil else { throw RegistryError.notFound("Worker") }
            let account = try await AccountStore.workerAccount(workerID.uuid, on: connection, logger: logger)
            if try await ContactStore.holder(phone: phone, email: nil, except: account?.id, on: connection, logger: logger) != nil {
                throw Self.taken
            }
            let old: String?
            do {
                old = try await ContactStore.setWorkerPhone(workerID.uuid, phone: phone, on: connection, logger: logger)
            } catch is ContactStore.ContactTaken {
                throw Self.taken
            }
            for recipient in [old, phone].compactMap({ $0 }) {
                try await NotificationStore.enqueue(
                    channel: "sms",
                    recipient: recipient,
                    template: "contact_changed_by_admin",
                    payload: ["new": OutboxDispatcher.mask(phone)],
                    on: connection,
                    logger: logger
                )
            }
            try await AuditStore.append(
                caller.event(
                    "worker.phone_changed",
                    "worker",
                    workerID.uuid,
                    ["from": AuditValue(old.map(OutboxDispatcher.mask)), "to": .string(OutboxDispatcher.mask(phone)), "reason": .string(reason)]
                ),
                on: connection,
                logger: logger
            )
            return Contact(phone: phone, email: nil, phoneVerified: true)
        }
    }
}
