import Crypto
import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Employers register themselves; workers activate the account their agency starts for them.
public struct AccountService: Sendable {
    let database: Database
    let hasher: PasswordHasher
    let authentication: AuthenticationPolicy
    let reports: ReportPolicy

    public struct EmployerRegistration: Sendable, Decodable {
        public var email: String?
        public var phone: String?
        public var password: String
        public var householdName: String
        public var regionCode: String

        public init(email: String?, phone: String?, password: String, householdName: String, regionCode: String) {
            self.email = email
            self.phone = phone
            self.password = password
            self.householdName = householdName
            self.regionCode = regionCode
        }

        enum CodingKeys: String, CodingKey {
            case email, phone, password
            case householdName = "household_name"
            case regionCode = "region_code"
        }
    }

    /// How a registration is answered, the same whether or not the e-mail or phone was already
    /// known, so that registration is no oracle of who has an account.
    public struct RegistrationAnswer: Sendable, Codable, Equatable {
        public var status: String
        public var message: String
    }

    /// A household registers from a client: throttled per address and in all before any hash;
    /// an e-mail or phone that already has an account gets the same answer as a new one (and
    /// nothing is created; the attempt is audited).
    public func register(_ r: EmployerRegistration, caller: Caller, clientAddress: String?, logger: Logger) async throws -> RegistrationAnswer {
        try await RegistrationThrottle(database: database, policy: authentication).admit(clientAddress: clientAddress, logger: logger)
        let answer = RegistrationAnswer(
            status: "accepted",
            message: "If this e-mail or phone number had no account, the account is made: sign in with it."
        )
        do {
            _ = try await registerEmployer(r, caller: caller, logger: logger)
        } catch let error as RegistryError where error.code == "account_exists" {
            try await database.transaction(logger: logger) { connection in
                try await AuditStore.append(
                    caller.event("user.registration_for_existing_contact", "user", nil, ["role": "employer"]),
                    on: connection,
                    logger: logger
                )
            }
        }
        return answer
    }

    /// An employer (household) registers with e-mail or phone and a password.
    public func registerEmployer(_ r: EmployerRegistration, caller: Caller, logger: Logger) async throws -> UserID {
        var email: String?
        var phone: String?
        if let raw = r.email, !raw.trimmingWhitespace().isEmpty {
            guard let e = Contact.normalizedEmail(raw) else { throw RegistryError.invalid("email", "Enter a valid e-mail address.") }
            email = e
        }
        if let raw = r.phone, !raw.trimmingWhitespace().isEmpty {
            guard let p = Contact.normalizedPhone(raw) else { throw RegistryError.invalid("phone", "Enter a valid phone number.") }
            phone = p
        }
        guard email != nil || phone != nil else {
            throw RegistryError.invalid("email", "Give an e-mail address or a phone number to sign in with.", code: "missing_field")
        }
        let household = try Input.name(r.householdName, field: "household_name", max: 100)!
        let region = r.regionCode.trimmingWhitespace()
        guard region.count == 6, region.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw RegistryError.invalid("region_code", "The region is a 6-digit administrative division code, e.g. 320102.")
        }
        guard r.password.count >= authentication.passwordMinLength, r.password.utf8.count <= PasswordHasher.maxPasswordBytes else {
            throw RegistryError.invalid("password", "Use at least \(authentication.passwordMinLength) characters.", code: "password_too_short")
        }
        let hash = try await hasher.hash(r.password)
        return try await database.transaction(logger: logger) { connection in
            let id = try await AccountStore.create(
                .init(
                    role: .employer,
                    email: email,
                    phone: phone,
                    displayName: household,
                    passwordHash: hash,
                    householdName: household,
                    regionCode: region
                ),
                on: connection,
                logger: logger
            )
            try await AuditStore.append(caller.event("user.created", "user", id, ["role": "employer"]), on: connection, logger: logger)
            return UserID(id)
        }
    }

    /// The agency in custody starts the worker's own account: a code goes to her phone.
    public func startWorkerAccount(_ workerID: WorkerID, caller: Caller, logger: Logger) async throws -> String {
        let code = TokenGenerator.numericCode(digits: 6)
        return try await database.transaction(logger: logger) { connection in
            let (worker, agency) = try await WorkerAccess.visible(workerID.uuid, caller: caller, write: true, on: connection, logger: logger)
            guard agency != nil else { throw RegistryError.notFound("Worker") }
            guard let phone = worker.phone else {
                throw RegistryError(.conflict, code: "no_phone", message: "Record her phone number first: the activation code is sent there.")
            }
            var userID: UUID?
            if let existing = try await AccountStore.workerAccount(workerID.uuid, on: connection, logger: logger) {
                guard existing.status == "pending_activation" else {
                    throw RegistryError(.conflict, code: "account_active", message: "She already has an active account.")
                }
                userID = existing.id
            }
            // Her number must be her own: never a staff member's (an agency typing its own), nor another account's.
            switch try await ContactStore.holder(phone: phone, email: nil, except: userID, on: connection, logger: logger) {
            case nil: break
            case "agency_staff"?:
                throw RegistryError(
                    .conflict,
                    code: "phone_is_staff",
                    message: "Her phone number is an agency staff member's. Record her own number before starting her account.",
                    field: "phone"
                )
            default:
                throw RegistryError(
                    .conflict,
                    code: "contact_taken",
                    message: "Her phone number belongs to another account. Record her own number before starting her account.",
                    field: "phone"
                )
            }
            let id: UUID
            if let userID {
                id = userID
            } else {
                id = try await AccountStore.create(
                    .init(
                        role: .worker,
                        email: nil,
                        phone: phone,
                        displayName: worker.fullName,
                        passwordHash: nil,
                        status: "pending_activation",
                        workerID: workerID.uuid
                    ),
                    on: connection,
                    logger: logger
                )
            }
            try await ActivationStore.create(
                userID: id,
                codeHash: Data(TokenGenerator.hash(code)),
                minutes: reports.activationCodeMinutes,
                on: connection,
                logger: logger
            )
            try await NotificationStore.enqueue(
                channel: "sms",
                recipient: phone,
                template: "worker_activation_code",
                payload: ["code": code, "minutes": String(reports.activationCodeMinutes)],
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("worker.account_started", "worker", workerID.uuid, ["user": .string(id.text)]),
                on: connection,
                logger: logger
            )
            return TransferService.maskPhone(phone)
        }
    }

    /// Whether the worker has her own account, for the agency in custody (or an administrator):
    /// nil when none was started, else its status (`pending_activation`, `active`, `disabled`).
    public func workerAccountStatus(_ workerID: WorkerID, caller: Caller, logger: Logger) async throws -> String? {
        try await database.withConnection { connection in
            _ = try await WorkerAccess.visible(workerID.uuid, caller: caller, write: false, on: connection, logger: logger)
            return try await AccountStore.workerAccount(workerID.uuid, on: connection, logger: logger)?.status
        }
    }

    /// The worker sets her password with the code she received. Every attempt is counted
    /// first (per phone number and per client address, atomically), and the code is checked
    /// before the password is hashed: a wrong code costs no argon2id run.
    public func activateWorker(
        phone: String,
        code: String,
        password: String,
        throttle: AuthenticationPolicy,
        clientAddress: String? = nil,
        logger: Logger
    ) async throws {
        guard let phone = Contact.normalizedPhone(phone) else { throw RegistryError.invalid("phone", "Enter a valid phone number.") }
        guard password.count >= authentication.passwordMinLength, password.utf8.count <= PasswordHasher.maxPasswordBytes else {
            throw RegistryError.invalid("password", "Use at least \(authentication.passwordMinLength) characters.", code: "password_too_short")
        }
        let key = ThrottleKeys.hashed("activation", phone)
        let addressKey = clientAddress.map { ThrottleKeys.hashed("activation-address", $0) }
        let limits = throttle.loginThrottle
        let keys = [(key, limits.accountFailuresAllowed)] + (addressKey.map { [($0, limits.addressFailuresAllowed)] } ?? [])
        let blocked = try await ThrottleStore.admit(keys, policy: limits, database: database, logger: logger)
        if blocked > 0 { throw RegistryError.throttled(retryAfterSeconds: blocked) }
        let wrong = RegistryError(
            .badRequest,
            code: "wrong_code",
            message: "The phone number or the code is wrong, or the code expired.",
            field: "code"
        )

        /// The account and its live code when `code` is that code; counts a wrong guess.
        func matching(on connection: DatabaseConnection) async throws -> (user: UUID, code: UUID)? {
            let userID = try await AccountStore.pendingWorker(phone: phone, on: connection, logger: logger)
            guard let userID, let live = try await ActivationStore.live(userID: userID, on: connection, logger: logger), live.attempts < 5 else {
                return nil
            }
            guard TokenGenerator.constantTimeEqual(Data(TokenGenerator.hash(code.trimmingWhitespace())).hex, live.hash.hex) else {
                try await ActivationStore.countFailure(live.id, on: connection, logger: logger)
                return nil
            }
            return (userID, live.id)
        }
        guard try await database.transaction(logger: logger, { connection in try await matching(on: connection) }) != nil else { throw wrong }
        // Only now the expensive hash, outside any transaction; then the code is taken for good,
        // checked again under its lock (a concurrent activation may have used it meanwhile).
        let hash = try await hasher.hash(password)
        let done: Bool = try await database.transaction(logger: logger) { connection in
            guard let (userID, codeID) = try await matching(on: connection) else { return false }
            try await ActivationStore.use(codeID, on: connection, logger: logger)
            try await AccountStore.setPasswordHash(hash, userID: userID, on: connection, logger: logger)
            try await ThrottleStore.reset(key: key, on: connection, logger: logger)
            if let addressKey { try await ThrottleStore.release(key: addressKey, on: connection, logger: logger) }
            try await AuditStore.append(
                AuditEvent(
                    actorKind: .user,
                    actorID: userID.text,
                    actorRole: "worker",
                    action: "user.activated",
                    subjectType: "user",
                    subjectID: userID.text
                ),
                on: connection,
                logger: logger
            )
            return true
        }
        guard done else { throw wrong }
    }

    /// The worker lists herself for hire, or stops.
    /// Whether the signed-in worker is listed for hire.
    public func isAvailable(caller: Caller, logger: Logger) async throws -> Bool {
        guard caller.principal.role == .worker, let workerID = caller.workerUUID else { throw RegistryError.forbidden }
        return try await ReportStore.isAvailable(workerID, database: database, logger: logger)
    }

    public func setAvailable(_ available: Bool, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .worker, let workerID = caller.workerUUID else { throw RegistryError.forbidden }
        try await database.transaction(logger: logger) { connection in
            guard let worker = try await WorkerStore.get(workerID, on: connection, logger: logger) else { throw RegistryError.notFound("Worker") }
            if available, worker.status != "active" {
                throw RegistryError(.conflict, code: "not_active", message: "A suspended or barred worker cannot be listed for hire.")
            }
            try await ReportStore.setAvailable(workerID, available, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("worker.availability_set", "worker", workerID, ["available": .bool(available)]),
                on: connection,
                logger: logger
            )
        }
    }
}
