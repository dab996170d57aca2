import Crypto
import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Sign-in, sessions and passwords. Every change writes its audit row in the same transaction.
public struct AuthService: Sendable {
    let database: Database
    let clock: RegistryClock
    let policy: AuthenticationPolicy
    /// The credit commitments in force, which agency staff must have accepted before a write.
    let commitments: CommitmentPolicy
    public let hasher: PasswordHasher
    /// Verified against when the account does not exist, so both paths cost one argon2id run.
    let decoy: String

    public init(
        database: Database,
        clock: RegistryClock,
        policy: AuthenticationPolicy,
        commitments: CommitmentPolicy,
        hasher: PasswordHasher = PasswordHasher()
    ) {
        self.database = database
        self.clock = clock
        self.policy = policy
        self.commitments = commitments
        self.hasher = hasher
        self.decoy = hasher.decoyHash()
    }

    /// How a person names her account at sign-in.
    public enum Identifier: Sendable, Equatable {
        case email(String)
        case phone(String)

        /// Exactly one of e-mail and phone, normalised.
        public static func from(email: String?, phone: String?) throws(RegistryError) -> Identifier {
            switch (email?.trimmingWhitespace().nilIfEmpty, phone?.trimmingWhitespace().nilIfEmpty) {
            case (let e?, nil):
                guard let normalized = Contact.normalizedEmail(e) else { throw .invalid("email", "Enter a valid e-mail address.") }
                return .email(normalized)
            case (nil, let p?):
                guard let normalized = Contact.normalizedPhone(p) else { throw .invalid("phone", "Enter a valid phone number.") }
                return .phone(normalized)
            case (nil, nil):
                throw .invalid("email", "Enter your e-mail address or phone number.", code: "missing_field")
            default:
                throw .invalid("phone", "Give either an e-mail address or a phone number, not both.")
            }
        }

        var value: String {
            switch self {
            case .email(let e): e
            case .phone(let p): p
            }
        }

        /// The throttle key: a hash, so the table never holds who tried to sign in.
        var throttleKey: String { ThrottleKeys.hashed("account", value) }
    }

    public struct SignedIn: Sendable {
        /// The bearer token / cookie value. Shown once; only its hash is stored.
        public var token: String
        public var session: Session
        public var user: User
    }

    /// A live session: who signed in, and the token that guards her forms.
    public struct Session: Sendable, Equatable {
        public var id: UUID
        public var userID: UUID
        public var role: Role
        public var agencyID: UUID?
        public var workerID: UUID?
        public var displayName: String
        public var csrfToken: String
        public var expiresAt: Date
        /// For agency staff: the credit commitments in force not yet accepted ("agency",
        /// "staff"); no write is taken until they are.
        public var owedCommitments: [String]

        init(_ row: SessionStore.Session) {
            id = row.id
            userID = row.userID
            role = row.role
            agencyID = row.agencyID
            workerID = row.workerID
            displayName = row.displayName
            csrfToken = row.csrfToken
            expiresAt = row.expiresAt
            owedCommitments = row.owedCommitments
        }

        public var principal: Principal {
            Principal(
                .user(
                    id: UserID(userID),
                    role: role,
                    agencyID: agencyID.map(AgencyID.init),
                    workerID: workerID.map(WorkerID.init)
                )
            )
        }
    }

    /// An account as its owner sees it (never its password hash).
    public struct User: Sendable, Equatable {
        public var id: UUID
        public var role: Role
        public var status: String
        public var agencyID: UUID?
        public var workerID: UUID?
        public var displayName: String
        public var email: String?
        public var phone: String?

        init(_ row: AccountStore.LoginRecord) {
            id = row.id
            role = row.role
            status = row.status
            agencyID = row.agencyID
            workerID = row.workerID
            displayName = row.displayName
            email = row.email
            phone = row.phone
        }
    }

    static func addressKey(_ address: String?) -> String? {
        address.map { ThrottleKeys.hashed("address", $0) }
    }

    /// Signs in. Wrong account, wrong password and disabled account all get the same answer
    /// and cost the same time. A session presented with the request is ended: every sign-in
    /// gets a fresh token (no session fixation).
    /// The account behind a session, as stored.
    public func user(_ id: UserID, logger: Logger) async throws -> User? {
        try await database.withConnection { connection in try await AccountStore.find(id: id.uuid, on: connection, logger: logger) }.map(User.init)
    }

    public func login(
        _ identifier: Identifier,
        password: String,
        clientAddress: String?,
        presentedToken: String?,
        requestID: String?,
        logger: Logger
    ) async throws -> SignedIn {
        let throttle = policy.loginThrottle
        // Every attempt is counted before the password is checked, atomically: concurrent
        // guesses cannot all pass a check made before any of them was recorded.
        let address = Self.addressKey(clientAddress)
        let keys = [(identifier.throttleKey, throttle.accountFailuresAllowed)] + (address.map { [($0, throttle.addressFailuresAllowed)] } ?? [])
        let blocked = try await ThrottleStore.admit(keys, policy: throttle, database: database, logger: logger)
        if blocked > 0 {
            logger.notice("sign-in throttled", metadata: ["retry_after": "\(blocked)"])
            throw RegistryError.throttled(retryAfterSeconds: blocked)
        }

        let user = try await database.withConnection { connection in
            try await AccountStore.find(email: identifier.emailValue, phone: identifier.phoneValue, on: connection, logger: logger)
        }
        let storedHash = user?.passwordHash ?? decoy
        let passwordMatches = try await hasher.verify(password, hash: storedHash)
        let succeeded = passwordMatches && user?.passwordHash != nil && user?.status == "active"

        guard succeeded, let user else {
            try await database.transaction(logger: logger) { connection in
                try await AuditStore.append(
                    AuditEvent(
                        actorKind: .system,
                        actorID: nil,
                        actorRole: "anonymous",
                        action: "auth.login_failed",
                        subjectType: "user",
                        subjectID: user.map { $0.id.uuidString.lowercased() },
                        requestID: requestID,
                        details: ["reason": user == nil ? "unknown_account" : (passwordMatches ? "account_not_active" : "wrong_password")]
                    ),
                    on: connection,
                    logger: logger
                )
            }
            throw RegistryError.invalidCredentials
        }

        let newHash: String? = hasher.needsRehash(storedHash) ? try await hasher.hash(password) : nil
        let token = TokenGenerator.token()
        let csrf = TokenGenerator.token(bytes: 24)
        let lifetime = policy.sessionLifetimeHours * 3600
        let session: SessionStore.Session = try await database.transaction(logger: logger) { connection in
            try await ThrottleStore.reset(key: identifier.throttleKey, on: connection, logger: logger)
            if let address { try await ThrottleStore.release(key: address, on: connection, logger: logger) }
            if let presentedToken {
                try await SessionStore.revoke(tokenHash: TokenGenerator.hash(presentedToken), on: connection, logger: logger)
            }
            if let newHash {
                try await AccountStore.setPasswordHash(newHash, userID: user.id, on: connection, logger: logger)
            }
            let id = try await SessionStore.create(
                tokenHash: TokenGenerator.hash(token),
                userID: user.id,
                csrfToken: csrf,
                lifetimeSeconds: lifetime,
                clientAddress: clientAddress,
                on: connection,
                logger: logger
            )
            let userID = user.id.uuidString.lowercased()
            try await AuditStore.append(
                AuditEvent(
                    actorKind: .user,
                    actorID: userID,
                    actorRole: user.role.rawValue,
                    action: "auth.login",
                    subjectType: "user",
                    subjectID: userID,
                    requestID: requestID,
                    details: ["session": .string(id.uuidString.lowercased()), "rehashed": .bool(newHash != nil)]
                ),
                on: connection,
                logger: logger
            )
            var session = SessionStore.Session(
                id: id,
                userID: user.id,
                role: user.role,
                agencyID: user.agencyID,
                workerID: user.workerID,
                displayName: user.displayName,
                csrfToken: csrf,
                expiresAt: clock.now.addingTimeInterval(TimeInterval(lifetime))
            )
            if user.role == .agencyStaff, let agency = user.agencyID {
                // Led to the commitments she owes at first sign-in (and after a new version).
                session.owedCommitments = try await CommitmentStore.owed(
                    agencyID: agency,
                    userID: user.id,
                    versions: (commitments.agency.version, commitments.staff.version),
                    on: connection,
                    logger: logger
                )
            }
            return session
        }
        return SignedIn(token: token, session: Session(session), user: User(user))
    }

    /// The live session behind a token, or nil.
    public func authenticate(token: String, logger: Logger) async throws -> Session? {
        guard token.utf8.count <= 256 else { return nil }
        return try await SessionStore.find(
            tokenHash: TokenGenerator.hash(token),
            idleSeconds: policy.sessionIdleMinutes * 60,
            commitmentVersions: (commitments.agency.version, commitments.staff.version),
            database: database,
            logger: logger
        ).map(Session.init)
    }

    public func logout(_ session: Session, requestID: String?, logger: Logger) async throws {
        try await database.transaction(logger: logger) { connection in
            try await SessionStore.revoke(sessionID: session.id, on: connection, logger: logger)
            try await AuditStore.append(
                AuditEvent(
                    by: session.principal,
                    action: "auth.logout",
                    subjectType: "session",
                    subjectID: session.id.uuidString.lowercased(),
                    requestID: requestID
                ),
                on: connection,
                logger: logger
            )
        }
    }

    /// Changes one's own password after checking the current one; every other session ends.
    public func changePassword(
        _ session: Session,
        current: String,
        new: String,
        requestID: String?,
        logger: Logger
    ) async throws {
        try validateNewPassword(new)
        let user = try await database.withConnection { connection in
            try await AccountStore.find(id: session.userID, on: connection, logger: logger)
        }
        guard let user, let hash = user.passwordHash, try await hasher.verify(current, hash: hash) else {
            throw RegistryError(.badRequest, code: "wrong_password", message: "The current password is wrong.", field: "current_password")
        }
        let newHash = try await hasher.hash(new)
        try await database.transaction(logger: logger) { connection in
            try await AccountStore.setPasswordHash(newHash, userID: user.id, on: connection, logger: logger)
            let ended = try await SessionStore.revokeAll(userID: user.id, except: session.id, on: connection, logger: logger)
            try await AuditStore.append(
                AuditEvent(
                    by: session.principal,
                    action: "auth.password_changed",
                    subjectType: "user",
                    subjectID: user.id.uuidString.lowercased(),
                    requestID: requestID,
                    details: ["sessions_ended": .int(ended)]
                ),
                on: connection,
                logger: logger
            )
        }
    }

    public func validateNewPassword(_ password: String) throws(RegistryError) {
        guard password.count >= policy.passwordMinLength else {
            throw .invalid("new_password", "Use at least \(policy.passwordMinLength) characters.", code: "password_too_short")
        }
        guard password.utf8.count <= PasswordHasher.maxPasswordBytes else {
            throw .invalid("new_password", "The password is too long.", code: "password_too_long")
        }
    }

    /// Disables an account and ends all its sessions.
    public func disable(userID: UserID, by actor: Principal, reason: String, requestID: String?, logger: Logger) async throws {
        let reason = reason.trimmingWhitespace()
        guard (3...500).contains(reason.count) else { throw RegistryError.invalid("reason", "Give a reason (3 to 500 characters).") }
        guard actor.userID != userID else {
            throw RegistryError(.conflict, code: "cannot_disable_self", message: "You cannot disable your own account.")
        }
        try await database.transaction(logger: logger) { connection in
            guard try await AccountStore.find(id: userID.uuid, on: connection, logger: logger) != nil else {
                throw RegistryError.notFound("User")
            }
            try await AccountStore.setStatus("disabled", userID: userID.uuid, on: connection, logger: logger)
            let ended = try await SessionStore.revokeAll(userID: userID.uuid, on: connection, logger: logger)
            try await AuditStore.append(
                AuditEvent(
                    by: actor,
                    action: "user.disabled",
                    subjectType: "user",
                    subjectID: userID.text,
                    requestID: requestID,
                    details: ["reason": .string(reason), "sessions_ended": .int(ended)]
                ),
                on: connection,
                logger: logger
            )
        }
    }

    /// Creates an administrator (CLI `create-admin`, demo data).
    public func createAdmin(email: String, password: String, displayName: String, logger: Logger) async throws -> UserID {
        guard let email = Contact.normalizedEmail(email) else { throw RegistryError.invalid("email", "Enter a valid e-mail address.") }
        try validateNewPassword(password)
        let hash = try await hasher.hash(password)
        return try await database.transaction(logger: logger) { connection in
            let id = try await AccountStore.create(
                .init(role: .admin, email: email, phone: nil, displayName: displayName, passwordHash: hash),
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                AuditEvent(
                    actorKind: .system,
                    actorID: nil,
                    actorRole: "system",
                    action: "user.created",
                    subjectType: "user",
                    subjectID: id.uuidString.lowercased(),
                    details: ["role": "admin"]
                ),
                on: connection,
                logger: logger
            )
            return UserID(id)
        }
    }
}

extension AuthService.Identifier {
    var emailValue: String? { if case .email(let e) = self { e } else { nil } }
    var phoneValue: String? { if case .phone(let p) = self { p } else { nil } }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
