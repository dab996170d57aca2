import Crypto
import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Consent codes: the worker issues one for one employer check; the employer redeems it.
public struct ConsentService: Sendable {
    let database: Database
    let policy: ReportPolicy
    let throttle: LoginThrottlePolicy

    /// A consent code as the worker sees it in her list.
    public struct Consent: Sendable, Equatable, Encodable {
        public var id: UUID
        public var issuedVia: String
        public var createdAt: Date
        public var expiresAt: Date
        public var usedAt: Date?
        public var usedByName: String?
        public var accessUntil: Date?
        public var revokedAt: Date?

        init(_ row: ConsentStore.Consent) {
            id = row.id
            issuedVia = row.issuedVia
            createdAt = row.createdAt
            expiresAt = row.expiresAt
            usedAt = row.usedAt
            usedByName = row.usedByName
            accessUntil = row.accessUntil
            revokedAt = row.revokedAt
        }
    }

    /// 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L).
    static let alphabet = Array("23456789ABCDEFGHJKMNPQRSTUVWXYZ")

    static func newCode() -> String {
        var rng = SystemRandomNumberGenerator()
        return String((0..<8).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }

    static func normalize(_ code: String) -> String {
        code.uppercased().filter { !$0.isWhitespace && $0 != "-" }
    }

    public struct Issued: Sendable, Encodable {
        public var id: String
        /// Shown to the worker once (null when it was sent to her phone instead).
        public var code: String?
        public var expiresAt: Date
        /// A link an employer can open (for a QR code); holds the code, never the ID number.
        public var checkPath: String?
        public var sentTo: String?
    }

    /// The worker issues a code in her own account.
    public func issue(caller: Caller, logger: Logger) async throws -> Issued {
        guard caller.principal.role == .worker, let workerID = caller.workerUUID, let user = caller.userUUID else { throw RegistryError.forbidden }
        let code = Self.newCode()
        return try await database.transaction(logger: logger) { connection in
            try await requireRoomForCode(workerID, on: connection, logger: logger)
            let (id, expires) = try await ConsentStore.create(
                workerID: workerID,
                codeHash: Data(TokenGenerator.hash(code)),
                issuedBy: user,
                via: "worker",
                minutes: policy.consentCodeMinutes,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("consent.issued", "worker", workerID, ["consent": .string(id.text), "via": "worker"]),
                on: connection,
                logger: logger
            )
            return Issued(id: id.text, code: code, expiresAt: expires, checkPath: "/check?code=\(code)", sentTo: nil)
        }
    }

    /// Her agency asks for a code on her behalf: it goes to her phone, so it is used only if she
    /// chooses to hand it on. The agency never sees it.
    public func issueByAgency(_ workerID: WorkerID, caller: Caller, logger: Logger) async throws -> Issued {
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        let code = Self.newCode()
        return try await database.transaction(logger: logger) { connection in
            let (worker, agency) = try await WorkerAccess.visible(workerID.uuid, caller: caller, write: true, on: connection, logger: logger)
            guard agency != nil else { throw RegistryError.notFound("Worker") }
            guard let phone = worker.phone else {
                throw RegistryError(.conflict, code: "no_phone", message: "She has no phone on file; she can issue a code in her own account.")
            }
            try await requireRoomForCode(workerID.uuid, on: connection, logger: logger)
            let (id, expires) = try await ConsentStore.create(
                workerID: workerID.uuid,
                codeHash: Data(TokenGenerator.hash(code)),
                issuedBy: user,
                via: "agency",
                minutes: policy.consentCodeMinutes,
                on: connection,
                logger: logger
            )
            try await NotificationStore.enqueue(
                channel: "sms",
                recipient: phone,
                template: "consent_code",
                payload: ["code": code, "minutes": String(policy.consentCodeMinutes)],
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("consent.issued", "worker", workerID.uuid, ["consent": .string(id.text), "via": "agency"]),
                on: connection,
                logger: logger
            )
            return Issued(id: id.text, code: nil, expiresAt: expires, checkPath: nil, sentTo: TransferService.maskPhone(phone))
        }
    }

    /// The per-worker bound: at most `consent_codes_live_max` of her codes can be redeemed at
    /// once, so guesses (from however many employer accounts) have few codes of hers to hit, and
    /// an agency cannot flood her phone with codes.
    func requireRoomForCode(_ workerID: UUID, on connection: DatabaseConnection, logger: Logger) async throws {
        guard try await ConsentStore.liveCount(workerID: workerID, on: connection, logger: logger) < policy.consentCodesLiveMax else {
            throw RegistryError(
                .conflict,
                code: "too_many_codes",
                message: "She already has \(policy.consentCodesLiveMax) codes that still work: revoke one, or wait until one expires."
            )
        }
    }

    public func list(caller: Caller, logger: Logger) async throws -> [Consent] {
        guard caller.principal.role == .worker, let workerID = caller.workerUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await ConsentStore.list(workerID: workerID, on: connection, logger: logger).map(Consent.init)
        }
    }

    public func revoke(_ id: UUID, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .worker, let workerID = caller.workerUUID else { throw RegistryError.forbidden }
        try await database.transaction(logger: logger) { connection in
            guard try await ConsentStore.revoke(id, workerID: workerID, on: connection, logger: logger) else {
                throw RegistryError.notFound("Consent")
            }
            try await AuditStore.append(
                caller.event("consent.revoked", "worker", workerID, ["consent": .string(id.text)]),
                on: connection,
                logger: logger
            )
        }
    }

    public struct Redeemed: Sendable, Encodable {
        public var workerId: String
        public var accessUntil: Date
    }

    enum RedeemOutcome: Sendable {
        case ok(Redeemed)
        case wrong
    }

    /// An employer redeems a code: single use; then she may read the report for a while.
    /// Wrong codes are counted per employer and blocked like sign-in failures.
    public func redeem(code: String, caller: Caller, clientAddress: String? = nil, logger: Logger) async throws -> Redeemed {
        guard caller.principal.role == .employer, let employer = caller.userUUID else { throw RegistryError.forbidden }
        let normalized = Self.normalize(code)
        guard normalized.count == 8, normalized.allSatisfy({ Self.alphabet.contains($0) }) else {
            throw RegistryError.invalid(
                "code",
                "A consent code is 8 characters from \(String(Self.alphabet)) (no 0, 1, I, L or O).",
                code: "invalid_code"
            )
        }
        // Guesses are counted before the code is looked at, per employer and per client address
        // (employer accounts are free to make, addresses are not).
        let key = "consent:" + employer.text
        let addressKey = clientAddress.map { ThrottleKeys.hashed("consent-address", $0) }
        var limits = throttle
        limits.windowSeconds = policy.redeemWindowSeconds
        let keys = [(key, policy.redeemFailuresAllowed)] + (addressKey.map { [($0, policy.redeemFailuresAllowed * 3)] } ?? [])
        let blocked = try await ThrottleStore.admit(keys, policy: limits, database: database, logger: logger)
        if blocked > 0 { throw RegistryError.throttled(retryAfterSeconds: blocked) }
        let outcome: RedeemOutcome = try await database.transaction(logger: logger) { connection in
            guard let consent = try await ConsentStore.redeemable(codeHash: Data(TokenGenerator.hash(normalized)), on: connection, logger: logger)
            else {
                try await AuditStore.append(caller.event("consent.redeem_failed", "user", employer), on: connection, logger: logger)
                return .wrong
            }
            try await ThrottleStore.reset(key: key, on: connection, logger: logger)
            if let addressKey { try await ThrottleStore.release(key: addressKey, on: connection, logger: logger) }
            let until = try await ConsentStore.redeem(
                consent.id,
                employer: employer,
                accessMinutes: policy.reportAccessMinutes,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("consent.redeemed", "worker", consent.workerID, ["consent": .string(consent.id.text)]),
                on: connection,
                logger: logger
            )
            return .ok(Redeemed(workerId: consent.workerID.text, accessUntil: until))
        }
        switch outcome {
        case .ok(let r): return r
        case .wrong:
            throw RegistryError(
                .badRequest,
                code: "invalid_code",
                message: "This code is wrong, used, revoked or expired. Ask the worker for a new one.",
                field: "code"
            )
        }
    }
}
