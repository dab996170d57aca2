import Crypto
import Foundation
import Logging
import NIOCore
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Police and credit-bureau flags: sources and keys, the feed API, matching, and effects.
public struct FlagService: Sendable {
    let database: Database
    let clock: RegistryClock
    let keys: KeyRing
    let policy: FlagPolicy
    /// The cases the system opened for flags: closed when their flag is retracted.
    let cases: CaseService

    public static let keyPrefix = "rik_"

    // MARK: Sources and keys (administrators)

    public struct NewSource: Sendable, Decodable {
        public var name: String
        public var kind: String
        public var displayName: String
        public var requireSignature: Bool?
        /// Where the registry writes to the source's operators (a retraction asked for).
        public var contactEmail: String?

        public init(name: String, kind: String, displayName: String, requireSignature: Bool?, contactEmail: String? = nil) {
            self.name = name
            self.kind = kind
            self.displayName = displayName
            self.requireSignature = requireSignature
            self.contactEmail = contactEmail
        }

        enum CodingKeys: String, CodingKey {
            case name, kind
            case displayName = "display_name"
            case requireSignature = "require_signature"
            case contactEmail = "contact_email"
        }
    }

    public struct CreatedSource: Sendable, Encodable {
        public var id: String
        /// The HMAC secret for signed bodies: shown once.
        public var signingSecret: String
    }

    public func registerSource(_ s: NewSource, caller: Caller, logger: Logger) async throws -> CreatedSource {
        let name = s.name.trimmingWhitespace()
        guard name.count >= 2, name.count <= 63, name.first.map({ $0.isLowercase || $0.isNumber }) == true,
            name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") })
        else { throw RegistryError.invalid("name", "A source name is 2 to 63 lower-case letters, digits, - and _ (e.g. fj-police).") }
        guard SourceKind(rawValue: s.kind) != nil else { throw RegistryError.invalid("kind", "kind is police, credit_bureau or registry.") }
        let display = try Input.name(s.displayName, field: "display_name", max: 200)!
        var contact: String?
        if let raw = s.contactEmail, !raw.trimmingWhitespace().isEmpty {
            guard let email = Contact.normalizedEmail(raw) else { throw RegistryError.invalid("contact_email", "Enter a valid e-mail address.") }
            contact = email
        }
        let secret = TokenGenerator.token(bytes: 32)
        return try await database.transaction(logger: logger) { connection in
            let id = try await IntegrationStore.createSource(
                name: name,
                kind: s.kind,
                displayName: display,
                secretEnc: Data(keys.seal(secret, context: SealedPlace.sourceSecret(name: name))),
                requireSignature: s.requireSignature ?? false,
                contactEmail: contact,
                by: caller.userUUID,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "integration.source_registered",
                    "integration_source",
                    id,
                    ["name": .string(name), "kind": .string(s.kind)]
                ),
                on: connection,
                logger: logger
            )
            return CreatedSource(id: id.text, signingSecret: secret)
        }
    }

    public struct IssuedKey: Sendable, Encodable {
        public var id: String
        /// The key itself: shown once, only its SHA-256 is stored.
        public var key: String
        public var keyPrefix: String
    }

    public func issueKey(sourceID: UUID, label: String?, caller: Caller, logger: Logger) async throws -> IssuedKey {
        let label = try Input.text(label, field: "label", max: 100, required: false)
        let key = Self.keyPrefix + TokenGenerator.token(bytes: 32)
        let prefix = String(key.prefix(10))
        return try await database.transaction(logger: logger) { connection in
            guard try await IntegrationStore.source(id: sourceID, on: connection, logger: logger) != nil else {
                throw RegistryError.notFound("Source")
            }
            let id = try await IntegrationStore.createKey(
                sourceID: sourceID,
                prefix: prefix,
                hash: Data(TokenGenerator.hash(key)),
                label: label,
                by: caller.userUUID,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "integration.key_issued",
                    "integration_source",
                    sourceID,
                    ["key": .string(id.text), "prefix": .string(prefix)]
                ),
                on: connection,
                logger: logger
            )
            return IssuedKey(id: id.text, key: key, keyPrefix: prefix)
        }
    }

    public func revokeKey(sourceID: UUID, keyID: UUID, caller: Caller, logger: Logger) async throws {
        guard let admin = caller.userUUID else { throw RegistryError.forbidden }
        try await database.transaction(logger: logger) { connection in
            guard try await IntegrationStore.revokeKey(keyID, sourceID: sourceID, by: admin, on: connection, logger: logger) else {
                throw RegistryError.notFound("Key")
            }
            try await AuditStore.append(
                caller.event("integration.key_revoked", "integration_source", sourceID, ["key": .string(keyID.text)]),
                on: connection,
                logger: logger
            )
        }
    }

    public struct SourceView: Sendable, Encodable {
        public var id: String
        public var name: String
        public var kind: String
        public var displayName: String
        public var requireSignature: Bool
        public var status: String
        public var keys: [Key]
    }

    /// An API key of a source, as listed (its prefix only: the key itself is shown once).
    public struct Key: Sendable, Equatable, Encodable {
        public var id: KeyID
        public var keyPrefix: String
        public var label: String?
        public var createdAt: Date
        public var lastUsedAt: Date?
        public var revokedAt: Date?

        init(_ row: IntegrationStore.Key) {
            id = KeyID(row.id)
            keyPrefix = row.keyPrefix
            label = row.label
            createdAt = row.createdAt
            lastUsedAt = row.lastUsedAt
            revokedAt = row.revokedAt
        }
    }

    /// The integration source behind an API key. Its sealed signing secret stays in the services.
    public struct Source: Sendable, Equatable {
        public var id: UUID
        public var name: String
        public var kind: String
        public var displayName: String
        public var requireSignature: Bool
        public var status: String
        var signingSecretEnc: Data?

        init(_ row: IntegrationStore.Source) {
            id = row.id
            name = row.name
            kind = row.kind
            displayName = row.displayName
            requireSignature = row.requireSignature
            status = row.status
            signingSecretEnc = row.signingSecretEnc
        }
    }

    public func sources(logger: Logger) async throws -> [SourceView] {
        try await database.withConnection { connection in
            var result: [SourceView] = []
            for s in try await IntegrationStore.sources(on: connection, logger: logger) {
                result.append(
                    SourceView(
                        id: s.id.text,
                        name: s.name,
                        kind: s.kind,
                        displayName: s.displayName,
                        requireSignature: s.requireSignature,
                        status: s.status,
                        keys: try await IntegrationStore.keys(sourceID: s.id, on: connection, logger: logger).map(Key.init)
                    )
                )
            }
            return result
        }
    }

    /// The source behind an API key (`Authorization: Bearer rik_...`).
    public func authenticate(key: String, logger: Logger) async throws -> (keyID: UUID, source: Source)? {
        guard key.hasPrefix(Self.keyPrefix), key.utf8.count <= 128 else { return nil }
        let found = try await IntegrationStore.authenticate(keyHash: Data(TokenGenerator.hash(key)), database: database, logger: logger)
        return found.map { ($0.keyID, Source($0.source)) }
    }

    // MARK: Signed requests

    /// The headers of a signed feed request, as sent.
    public struct Signed: Sendable {
        public var method: String
        public var path: String
        public var timestamp: String?
        public var nonce: String?
        public var signature: String?

        public init(method: String, path: String, timestamp: String?, nonce: String?, signature: String?) {
            self.method = method
            self.path = path
            self.timestamp = timestamp
            self.nonce = nonce
            self.signature = signature
        }
    }

    /// `X-Registry-Timestamp: <unix seconds>`, `X-Registry-Nonce: <16–64 of A-Z a-z 0-9 - _>` and
    /// `X-Registry-Signature: sha256=<hex>`, the hex being HMAC-SHA256(secret,
    /// "METHOD\nPATH\nSOURCE\nTIMESTAMP\nNONCE\n" + body). Required when the source asks for
    /// it; checked whenever present. A nonce is accepted once while its timestamp is fresh.
    public func checkSignature(
        source: Source,
        _ request: Signed,
        body: [UInt8],
        now: Date? = nil,
        logger: Logger
    ) async throws {
        let now = now ?? clock.now
        guard request.timestamp != nil || request.signature != nil || request.nonce != nil || source.requireSignature else { return }
        guard let timestamp = request.timestamp, let nonce = request.nonce, let signature = request.signature else {
            throw RegistryError(
                .unauthorized,
                code: "signature_required",
                message: "Signed requests carry X-Registry-Timestamp, X-Registry-Nonce and X-Registry-Signature."
            )
        }
        guard let seconds = FeedRequest.timestamp(timestamp) else {
            throw RegistryError(
                .badRequest,
                code: "invalid_timestamp",
                message: "X-Registry-Timestamp is the time in whole unix seconds (digits only).",
                field: "X-Registry-Timestamp"
            )
        }
        guard FeedRequest.isValidNonce(nonce) else {
            throw RegistryError(
                .badRequest,
                code: "invalid_nonce",
                message: "X-Registry-Nonce is 16 to 64 letters, digits, - and _, new for every request.",
                field: "X-Registry-Nonce"
            )
        }
        let maxSkew = policy.signatureMaxSkewSeconds
        guard FeedRequest.isFresh(seconds, now: Int(now.timeIntervalSince1970), maxSkew: maxSkew) else {
            throw RegistryError(
                .unauthorized,
                code: "stale_timestamp",
                message: "X-Registry-Timestamp is more than \(maxSkew) seconds from the registry's clock."
            )
        }
        guard let sealed = source.signingSecretEnc,
            let secret = try? keys.open(Array(sealed), context: SealedPlace.sourceSecret(name: source.name))
        else {
            throw RegistryError(.unauthorized, code: "bad_signature", message: "The signature does not match.")
        }
        let expected =
            "sha256="
            + Self.sign(
                secret: secret,
                method: request.method,
                path: request.path,
                source: source.name,
                timestamp: timestamp,
                nonce: nonce,
                body: body
            )
        guard TokenGenerator.constantTimeEqual(expected, signature.lowercased()) else {
            throw RegistryError(.unauthorized, code: "bad_signature", message: "The signature does not match.")
        }
        // Kept a little longer than the window on either side of now, then pruned.
        let fresh = try await database.withConnection { connection in
            try await IntegrationStore.useNonce(nonce, sourceID: source.id, keepSeconds: 2 * maxSkew + 60, on: connection, logger: logger)
        }
        guard fresh else {
            throw RegistryError(
                .unauthorized,
                code: "replayed_request",
                message: "This X-Registry-Nonce was already used: every signed request needs a new one."
            )
        }
    }

    public static func sign(
        secret: String,
        method: String,
        path: String,
        source: String,
        timestamp: String,
        nonce: String,
        body: [UInt8]
    ) -> String {
        let head = FeedRequest.canonicalHead(method: method, path: path, source: source, timestamp: timestamp, nonce: nonce)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(head.utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).hex
    }

    // MARK: The feed

    public struct ItemResult: Sendable, Codable, Equatable {
        public var index: Int
        public var reference: String?
        public var outcome: Outcome
        public var reason: String?
        public var field: String?
        public var flagId: String?
    }

    /// What became of one item of a feed.
    public enum Outcome: String, Sendable, Codable {
        case created, updated, unchanged, retracted, rejected

        init(_ row: FlagStore.Outcome) {
            switch row {
            case .created: self = .created
            case .updated: self = .updated
            case .unchanged: self = .unchanged
            case .retracted: self = .retracted
            case .rejected: self = .rejected
            }
        }
    }

    /// The item as one line of the flag staging table's COPY stream (see `FlagStore.Row`).
    public func appendCopyLine(_ s: FlagSubmission, sourceID: UUID, line: Int, to buffer: inout ByteBuffer) {
        row(s, sourceID: sourceID, line: line).appendCopyLine(to: &buffer)
    }

    /// The row to merge; the narrative is sealed for its place, the source's reference.
    func row(_ s: FlagSubmission, sourceID: UUID, line: Int) -> FlagStore.Row {
        FlagStore.Row(
            line: line,
            reference: s.reference,
            blindIndex: keys.blindIndex(s.nationalID),
            category: s.category,
            severity: s.severity,
            status: s.status.rawValue,
            occurredOn: s.occurredOn.iso,
            expiresOn: s.expiresOn?.iso,
            narrativeEnc: s.narrative.map { keys.seal($0, context: SealedPlace.flagNarrative(sourceID: sourceID, reference: s.reference)) },
            contentHash: Array(SHA256.hash(data: Data(s.canonicalContent.utf8)))
        )
    }

    static func validate(
        _ input: FlagSubmission.Input,
        kind: SourceKind,
        policy: FlagPolicy,
        today: CivilDate
    ) -> Result<FlagSubmission, RegistryError> {
        Result { () throws(RegistryError) in try FlagSubmission(input, source: kind, policy: policy, today: today) }
    }

    /// Merges items from one source: each item is created, updated, unchanged or rejected with a
    /// reason; rejected items never abort the others. Effects run in the same transaction.
    public func submit(_ items: [FlagSubmission.Input], sourceID: UUID, caller: Caller, logger: Logger) async throws -> [ItemResult] {
        try await submit(items.map { .success($0) }, sourceID: sourceID, caller: caller, logger: logger)
    }

    /// An item that could not even be decoded (a missing field, a wrong type), with its reference when known.
    public struct UndecodedItem: Error, Sendable {
        public var error: RegistryError
        public var reference: String?
        public init(_ error: RegistryError, reference: String?) {
            self.error = error
            self.reference = reference
        }
    }

    /// As above, with items that failed to decode rejected in their place.
    public func submit(
        _ items: [Result<FlagSubmission.Input, UndecodedItem>],
        sourceID: UUID,
        caller: Caller,
        logger: Logger
    ) async throws -> [ItemResult] {
        guard items.count <= policy.batchLimit else {
            throw RegistryError(.tooLarge, code: "batch_too_large", message: "At most \(policy.batchLimit) flags per batch.")
        }
        let source = try await database.withConnection { connection in
            try await IntegrationStore.source(id: sourceID, on: connection, logger: logger)
        }
        guard let source, let kind = SourceKind(rawValue: source.kind) else { throw RegistryError.forbidden }
        let today = clock.today
        var results: [Int: ItemResult] = [:]
        var rows: [FlagStore.Row] = []
        var seen: [String: Int] = [:]
        for (i, decoded) in items.enumerated() {
            let item: FlagSubmission.Input
            switch decoded {
            case .failure(let undecoded):
                results[i] = ItemResult(
                    index: i,
                    reference: undecoded.reference,
                    outcome: .rejected,
                    reason: undecoded.error.message,
                    field: undecoded.error.field
                )
                continue
            case .success(let input): item = input
            }
            switch Self.validate(item, kind: kind, policy: policy, today: today) {
            case .failure(let error):
                results[i] = ItemResult(index: i, reference: item.reference, outcome: .rejected, reason: error.message, field: error.field)
            case .success(let submission):
                if let first = seen[submission.reference] {
                    results[i] = ItemResult(
                        index: i,
                        reference: submission.reference,
                        outcome: .rejected,
                        reason: "The same reference is already item \(first) of this batch.",
                        field: "reference"
                    )
                } else {
                    seen[submission.reference] = i
                    rows.append(row(submission, sourceID: sourceID, line: i))
                }
            }
        }
        try await database.transaction(logger: logger) { connection in
            let merged = try await FlagStore.merge(rows, sourceID: sourceID, on: connection, logger: logger)
            for m in merged {
                results[m.line] = ItemResult(index: m.line, reference: m.reference, outcome: Outcome(m.outcome), flagId: m.flagID?.text)
                if let id = m.flagID {
                    try await AuditStore.append(
                        caller.event(
                            "flag.\(m.outcome.rawValue)",
                            "flag",
                            id,
                            [
                                "source": .string(source.name),
                                "reference": .string(m.reference),
                            ]
                        ),
                        on: connection,
                        logger: logger
                    )
                }
            }
            try await applyEffectsAndTell(merged.compactMap(\.flagID), caller: caller, on: connection, logger: logger)
        }
        return items.indices.compactMap { results[$0] }
    }

    public struct Change: Sendable, Decodable {
        public var status: String?
        public var severity: Int?
        public var expiresOn: String?

        public init(status: String?, severity: Int?, expiresOn: String?) {
            self.status = status
            self.severity = severity
            self.expiresOn = expiresOn
        }

        enum CodingKeys: String, CodingKey {
            case status, severity
            case expiresOn = "expires_on"
        }
    }

    /// A source changes the status, severity or expiry of its own flag (`PUT`), or retracts it
    /// (`DELETE` = status retracted). Another source's reference is 404.
    public func change(sourceID: UUID, reference: String, _ change: Change, caller: Caller, logger: Logger) async throws -> ItemResult {
        var status: FlagStatus?
        if let s = change.status {
            guard let parsed = FlagStatus(rawValue: s) else { throw RegistryError.invalid("status", "Unknown status.") }
            status = parsed
        }
        if let severity = change.severity, !(1...5).contains(severity) { throw RegistryError.invalid("severity", "severity is 1 to 5.") }
        return try await database.transaction(logger: logger) { connection in
            guard let flag = try await FlagStore.lock(sourceID: sourceID, reference: reference, on: connection, logger: logger) else {
                throw RegistryError.notFound("Flag")
            }
            var expires = flag.expiresOn
            if let raw = change.expiresOn {
                guard let e = CivilDate(iso: raw), let occurred = CivilDate(iso: flag.occurredOn), e >= occurred else {
                    throw RegistryError.invalid("expires_on", "expires_on is a date on or after occurred_on.")
                }
                expires = e.iso
            }
            let newStatus = status?.rawValue ?? flag.status
            let newSeverity = change.severity ?? flag.severity
            let narrative = try flag.narrativeEnc.map {
                try keys.open(Array($0), context: SealedPlace.flagNarrative(sourceID: flag.sourceID, reference: flag.reference))
            }
            let content = [flag.category, String(newSeverity), newStatus, flag.occurredOn, expires ?? "", narrative ?? ""].joined(separator: "\u{1F}")
            let hash = Data(SHA256.hash(data: Data(content.utf8)))
            guard hash != flag.contentHash else {
                return ItemResult(index: 0, reference: reference, outcome: .unchanged, flagId: flag.id.text)
            }
            try await FlagStore.update(
                flag.id,
                severity: newSeverity,
                status: newStatus,
                expiresOn: expires,
                contentHash: hash,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    newStatus == "retracted" ? "flag.retracted" : "flag.updated",
                    "flag",
                    flag.id,
                    [
                        "before": .object(["status": .string(flag.status), "severity": .int(flag.severity), "expires_on": AuditValue(flag.expiresOn)]
                        ),
                        "after": .object(["status": .string(newStatus), "severity": .int(newSeverity), "expires_on": AuditValue(expires)]),
                    ]
                ),
                on: connection,
                logger: logger
            )
            try await applyEffectsAndTell([flag.id], caller: caller, on: connection, logger: logger)
            return ItemResult(index: 0, reference: reference, outcome: newStatus == "retracted" ? .retracted : .updated, flagId: flag.id.text)
        }
    }

    // MARK: Effects

    /// Applies the policy's effects of these flags as they now stand: interim suspensions (lifted
    /// again when a flag is retracted or expires), system-opened revocation cases, and a regrade.
    /// Each effect is audited with the flag that caused it. Idempotent.
    /// As `applyEffects`, and each flag's worker is texted that a flag about her arrived (its
    /// first version) or changed (a later one), once per version.
    public func applyEffectsAndTell(_ flagIDs: [UUID], caller: Caller, on connection: DatabaseConnection, logger: Logger) async throws {
        guard !flagIDs.isEmpty else { return }
        let flags = try await FlagStore.flags(ids: flagIDs, on: connection, logger: logger)
        try await applyEffects(to: flags, caller: caller, on: connection, logger: logger)
        try await textWorkers(about: flags, on: connection, logger: logger)
    }

    /// The plain words for a flag's status in her texts.
    static let statusWords = ["alleged": "涉嫌（尚未认定）", "charged": "已立案或起诉", "adjudicated": "已裁决认定", "retracted": "已撤回"]

    /// Texts the workers these flags are about: `flag_received` for a first version,
    /// `flag_changed` for a later one; one statement per kind; each version once (its key).
    func textWorkers(about flags: [FlagStore.Flag], on connection: DatabaseConnection, logger: Logger) async throws {
        let attached = flags.filter { $0.workerID != nil }
        guard !attached.isEmpty else { return }
        let phones = try await FlagStore.phones(workerIDs: attached.compactMap(\.workerID), on: connection, logger: logger)
        for (kind, group) in [("flag_received", attached.filter { $0.version <= 1 }), ("flag_changed", attached.filter { $0.version > 1 })] {
            let texted = group.compactMap { flag in flag.workerID.flatMap { phones[$0] }.map { (flag, $0) } }
            try await NotificationStore.enqueueAll(
                channel: "sms",
                recipients: texted.map(\.1),
                template: kind,
                payloads: texted.map { flag, _ in
                    [
                        "source": flag.sourceName, "category": policy.categories[flag.category]?.zh ?? flag.category,
                        "status": Self.statusWords[flag.status] ?? flag.status, "date": flag.occurredOn,
                    ]
                },
                keys: texted.map { flag, _ in
                    kind == "flag_received" ? "flag-received-\(flag.id.text)" : "flag-changed-\(flag.id.text)-v\(flag.version)"
                },
                on: connection,
                logger: logger
            )
        }
    }

    public func applyEffects(_ flagIDs: [UUID], caller: Caller, on connection: DatabaseConnection, logger: Logger) async throws {
        guard !flagIDs.isEmpty else { return }
        try await applyEffects(to: FlagStore.flags(ids: flagIDs, on: connection, logger: logger), caller: caller, on: connection, logger: logger)
    }

    /// As above, for flags already read. Suspensions to lift and regrades are done for all the
    /// flags in one statement each (the expiry job hands over hundreds at a time).
    func applyEffects(to flags: [FlagStore.Flag], caller: Caller, on connection: DatabaseConnection, logger: Logger) async throws {
        let today = clock.today.iso
        var lifting: [(flag: UUID, reason: String)] = []
        var regrade: [UUID] = []
        for flag in flags {
            guard let workerID = flag.workerID else { continue }
            let status = FlagStatus(rawValue: flag.status) ?? .retracted
            let expired = flag.expired(on: today)
            let effect = policy.effects(category: flag.category, status: status, severity: flag.severity, expired: expired)
            if effect.suspend {
                for id in try await StandingStore.openSuspension(
                    workerID: workerID,
                    flagID: flag.id,
                    reason: "Automatic interim suspension: \(flag.category) (\(flag.status)) reported by \(flag.sourceName).",
                    on: connection,
                    logger: logger
                ) {
                    try await StandingStore.markSuspended(workerID, on: connection, logger: logger)
                    try await AuditStore.append(
                        caller.event(
                            "worker.suspended",
                            "worker",
                            workerID,
                            ["flag": .string(flag.id.text), "suspension": .string(id.text), "automatic": true]
                        ),
                        on: connection,
                        logger: logger
                    )
                }
            } else {
                lifting.append((flag.id, "The flag that caused it was \(expired ? "expired" : flag.status)."))
            }
            if effect.openCase {
                if let caseID = try await CaseStore.create(
                    kind: "revocation",
                    originFlagID: flag.id,
                    workerID: workerID,
                    requesterKind: "system",
                    requesterID: nil,
                    grounds: flag.category,
                    statement: "Opened by the system: \(flag.sourceName) reported \(flag.category) (\(flag.status), severity \(flag.severity)) on "
                        + "\(flag.occurredOn), reference \(flag.reference).",
                    policyVersion: "flags-v\(policy.version)",
                    eventReason: "Flag \(flag.id.text) met the policy's threshold for a case.",
                    on: connection,
                    logger: logger
                ) {
                    try await AuditStore.append(
                        caller.event(
                            "case.opened_by_system",
                            "case",
                            caseID,
                            ["flag": .string(flag.id.text), "worker": .string(workerID.text)]
                        ),
                        on: connection,
                        logger: logger
                    )
                    try await WorkerTexts.send(
                        "case_opened",
                        to: workerID,
                        ["grounds": policy.categories[flag.category]?.zh ?? flag.category],
                        key: "case-opened-\(caseID.text)",
                        on: connection,
                        logger: logger
                    )
                }
            }
            regrade.append(workerID)
        }
        for lifted in try await StandingStore.liftSuspensions(
            flagIDs: lifting.map(\.flag),
            reasons: lifting.map(\.reason),
            on: connection,
            logger: logger
        ) {
            try await StandingStore.reactivateIfUnsuspended(lifted.worker, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event(
                    "worker.suspension_lifted",
                    "worker",
                    lifted.worker,
                    ["flag": .string(lifted.flag.text), "suspension": .string(lifted.suspension.text), "automatic": true]
                ),
                on: connection,
                logger: logger
            )
        }
        try await GradeStore.enqueueAll(regrade, reason: "flag", on: connection, logger: logger)
        // A retracted flag leaves the case the system opened for it with no grounds.
        try await cases.closeForRetractedFlags(flags.filter { $0.status == "retracted" }.map(\.id), on: connection, logger: logger)
    }

    /// Time: flags whose last day has passed lose their effects with no request. Each run claims
    /// up to `batch` due flags (skipping those another node holds), lifts the interim suspensions
    /// they caused, queues the worker's regrade, records `flag.expired` in the audit log and marks
    /// the flag, all in one transaction; it returns how many it handled (0 when nothing is due).
    public func expireDue(batch: Int = 500, logger: Logger) async throws -> Int {
        let today = clock.today.iso
        return try await database.transaction(logger: logger) { connection in
            let ids = try await FlagStore.claimExpired(today: today, limit: batch, on: connection, logger: logger)
            guard !ids.isEmpty else { return 0 }
            let flags = try await FlagStore.flags(ids: ids, on: connection, logger: logger)
            try await applyEffects(to: flags, caller: .system, on: connection, logger: logger)
            // Her text and the audit rows, one statement each for the whole batch.
            let told = flags.filter { $0.workerID != nil && $0.status != "retracted" }
            let phones = try await FlagStore.phones(workerIDs: told.compactMap(\.workerID), on: connection, logger: logger)
            let texted = told.filter { $0.workerID.flatMap { phones[$0] } != nil }
            try await NotificationStore.enqueueAll(
                channel: "sms",
                recipients: texted.compactMap { $0.workerID.flatMap { phones[$0] } },
                template: "flag_expired",
                payloads: texted.map { flag in
                    [
                        "source": flag.sourceName, "category": policy.categories[flag.category]?.zh ?? flag.category,
                        "last_day": flag.expiresOn ?? "",
                    ]
                },
                keys: texted.map { "flag-expired-\($0.id.text)-\($0.expiresOn ?? "")" },
                on: connection,
                logger: logger
            )
            try await AuditStore.appendAll(
                flags.map { flag in
                    Caller.system.event(
                        "flag.expired",
                        "flag",
                        flag.id,
                        ["expires_on": AuditValue(flag.expiresOn), "worker": AuditValue(flag.workerID?.text)]
                    )
                },
                on: connection,
                logger: logger
            )
            try await FlagStore.markExpiryApplied(ids, today: today, on: connection, logger: logger)
            return ids.count
        }
    }

    /// Flags received before a file existed attach to it when she is registered (also in bulk).
    public func attachOnRegistration(_ workerIDs: [UUID], caller: Caller, on connection: DatabaseConnection, logger: Logger) async throws {
        let attached = try await FlagStore.attach(workerIDs: workerIDs, on: connection, logger: logger)
        for id in attached {
            try await AuditStore.append(caller.event("flag.attached", "flag", id), on: connection, logger: logger)
        }
        try await applyEffectsAndTell(attached, caller: caller, on: connection, logger: logger)
    }

    // MARK: The worker's own flags

    public struct OwnFlag: Sendable, Encodable {
        public var id: String
        public var source: String
        public var category: String
        public var severity: Int
        public var status: String
        public var occurredOn: String
        public var expiresOn: String?
        public var expired: Bool
        public var narrative: String?
    }

    public func ownFlags(caller: Caller, logger: Logger) async throws -> [OwnFlag] {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await FlagStore.forWorker(worker, on: connection, logger: logger).map { f in
                OwnFlag(
                    id: f.id.text,
                    source: f.sourceName,
                    category: f.category,
                    severity: f.severity,
                    status: f.status,
                    occurredOn: f.occurredOn,
                    expiresOn: f.expiresOn,
                    expired: f.expired(on: clock.today.iso),
                    narrative: try f.narrativeEnc.map {
                        try keys.open(Array($0), context: SealedPlace.flagNarrative(sourceID: f.sourceID, reference: f.reference))
                    }
                )
            }
        }
    }

    public func dispute(flagID: UUID, reason: String, caller: Caller, logger: Logger) async throws -> UUID {
        guard caller.principal.role == .worker, let worker = caller.workerUUID, let user = caller.userUUID else { throw RegistryError.forbidden }
        let text = try Input.text(reason, field: "reason", max: 2000)!
        return try await database.transaction(logger: logger) { connection in
            guard let flag = try await FlagStore.flags(ids: [flagID], on: connection, logger: logger).first, flag.workerID == worker else {
                throw RegistryError.notFound("Flag")
            }
            let created = try await FlagStore.createDispute(
                flagID: flagID,
                workerID: worker,
                raisedBy: user,
                reason: text,
                on: connection,
                logger: logger
            )
            guard let id = created else { throw RegistryError.notFound("Flag") }
            try await AuditStore.append(
                caller.event("flag.disputed", "flag", flagID, ["dispute": .string(id.text)]),
                on: connection,
                logger: logger
            )
            return id
        }
    }

    /// A dispute the worker raised about one of her flags: its state and the administrators' note.
    public struct OwnFlagDispute: Sendable, Encodable {
        public var id: UUID
        public var flagID: UUID
        public var status: String
        public var note: String?
        public var createdAt: Date
    }

    /// The worker's own flag disputes, newest first.
    public func ownDisputes(caller: Caller, logger: Logger) async throws -> [OwnFlagDispute] {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            var result: [OwnFlagDispute] = []
            for (id, flag, status, note, created) in try await FlagStore.disputes(workerID: worker, on: connection, logger: logger) {
                result.append(OwnFlagDispute(id: id, flagID: flag, status: status, note: note, createdAt: created))
            }
            return result
        }
    }

    // MARK: Disputes (administrators)

    public struct FlagDispute: Sendable, Codable {
        public var id: UUID
        public var flagID: UUID
        public var workerID: UUID
        public var source: String
        public var reference: String
        public var category: String
        public var flagStatus: String
        public var reason: String
        public var status: String
        public var note: String?
        public var createdAt: Date
    }

    public func disputes(openOnly: Bool, logger: Logger) async throws -> [FlagDispute] {
        try await database.withConnection { connection in
            var result: [FlagDispute] = []
            for (id, flag, worker, source, ref, category, flagStatus, reason, status, note, created) in try await FlagStore.disputes(
                openOnly: openOnly,
                on: connection,
                logger: logger
            ) {
                result.append(
                    FlagDispute(
                        id: id,
                        flagID: flag,
                        workerID: worker,
                        source: source,
                        reference: ref,
                        category: category,
                        flagStatus: flagStatus,
                        reason: reason,
                        status: status,
                        note: note,
                        createdAt: created
                    )
                )
            }
            return result
        }
    }

    /// An administrator answers a flag dispute: annotates it, asks the source to retract (a
    /// message to the source's operators is queued), or rejects it. The flag itself changes only
    /// when its source sends a new version.
    public func decideDispute(_ id: UUID, decision: String, note: String, caller: Caller, logger: Logger) async throws {
        let outcome: String
        switch decision {
        case "annotate": outcome = "annotated"
        case "request_retraction": outcome = "retraction_requested"
        case "reject": outcome = "rejected"
        default: throw RegistryError.notFound("Resource")
        }
        guard let admin = caller.userUUID else { throw RegistryError.forbidden }
        let note = try Input.text(note, field: "note", max: 2000)!
        try await database.transaction(logger: logger) { connection in
            guard case let (flagID, current)? = try await FlagStore.lockDispute(id, on: connection, logger: logger) else {
                throw RegistryError.notFound("Dispute")
            }
            guard current == "open" else { throw RegistryError(.conflict, code: "dispute_decided", message: "This dispute was already answered.") }
            try await FlagStore.decideDispute(id, status: outcome, note: note, by: admin, on: connection, logger: logger)
            if outcome == "retraction_requested", let flag = try await FlagStore.flags(ids: [flagID], on: connection, logger: logger).first,
                let contact = try await IntegrationStore.sourceContact(flag.sourceID, on: connection, logger: logger)
            {
                try await NotificationStore.enqueue(
                    channel: "email",
                    recipient: contact,
                    template: "flag_retraction_requested",
                    payload: ["reference": flag.reference, "note": note],
                    on: connection,
                    logger: logger
                )
            }
            try await AuditStore.append(
                caller.event("flag.dispute_\(outcome)", "flag", flagID, ["dispute": .string(id.text), "note": .string(note)]),
                on: connection,
                logger: logger
            )
            if let flag = try await FlagStore.flags(ids: [flagID], on: connection, logger: logger).first, let worker = flag.workerID {
                try await WorkerTexts.send(
                    "flag_dispute_\(outcome)",
                    to: worker,
                    ["source": flag.sourceName, "category": policy.categories[flag.category]?.zh ?? flag.category],
                    key: "flag-dispute-answered-\(id.uuidString.lowercased())",
                    on: connection,
                    logger: logger
                )
            }
        }
    }
}
