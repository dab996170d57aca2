import Crypto
import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// The credit report an employer reads before hiring: written as an inquiry on every view,
/// available signed (Ed25519) so a printed or QR copy can be checked later.
public struct ReportService: Sendable {
    let database: Database
    let clock: RegistryClock
    let keys: KeyRing
    let policy: ReportPolicy
    let custody: CustodyPolicy
    let sectors: SectorPolicy
    let redList: PublicationPolicy.RedList
    let demerits: DemeritPolicy

    /// Who read her file, when and why.
    public struct Inquiry: Sendable, Equatable, Encodable {
        public var id: Int64
        public var viewerName: String?
        public var viewerRole: String
        public var purpose: String
        public var consentID: UUID?
        public var engagementID: UUID?
        public var viewedAt: Date

        init(_ row: InquiryStore.Inquiry) {
            id = row.id
            viewerName = row.viewerName
            viewerRole = row.viewerRole
            purpose = row.purpose
            consentID = row.consentID
            engagementID = row.engagementID
            viewedAt = row.viewedAt
        }
    }

    /// The report's format is the domain's (`CreditReport`).
    public typealias Report = CreditReport

    /// Who may read: an employer with a redeemed consent or a confirmed engagement; the agency in
    /// custody; administrators, with a stated purpose; the worker herself. Every view but hers is
    /// an inquiry.
    public func report(_ workerID: WorkerID, purpose stated: String? = nil, caller: Caller, logger: Logger) async throws -> Report {
        // Only administrators must state one; a purpose anyone sends must be one of the known.
        if let stated, caller.principal.role != .admin { _ = try AdminReadPurpose.parse(stated) }
        let adminPurpose = caller.principal.role == .admin ? try AdminReadPurpose.parse(stated) : nil
        let reader: CreditReport.Reader
        switch caller.principal.role {
        case .employer:
            guard let employer = caller.userUUID else { throw RegistryError.notFound("Worker") }
            reader = .household(employerID: employer.text)
        case .admin, .agencyStaff:
            reader = .registry
        case .worker where caller.principal.workerID == workerID:
            reader = .registry
        default:
            throw RegistryError.notFound("Worker")
        }
        // Authorisation, the whole file, the inquiry and its audit row: one statement.
        let event = caller.event("report.viewed", "worker", workerID.uuid)
        let today = clock.today
        let read = try await ReportStore.read(
            worker: workerID.uuid,
            reader: .init(
                role: caller.principal.role.rawValue,
                userID: caller.userUUID,
                agencyID: caller.agencyUUID,
                adminPurpose: adminPurpose?.rawValue,
                actorKind: event.actorKind.rawValue,
                actorRole: event.actorRole,
                requestID: event.requestID
            ),
            today: today.iso,
            recentReviews: policy.reportRecentReviews,
            engagementItems: Self.reportEngagementItems,
            database: database,
            logger: logger
        )
        guard let read else { throw RegistryError.notFound("Worker") }
        guard let json = read.file, read.purpose != nil else {
            switch caller.principal.role {
            case .employer:
                throw RegistryError(
                    .forbidden,
                    code: "consent_required",
                    message: "Ask the worker for a consent code and redeem it first (POST /api/v1/consents/redeem)."
                )
            case .agencyStaff where read.agencyStatus != "approved" && read.agencyStatus != "suspended":
                throw RegistryError(.forbidden, code: "agency_not_approved", message: "Your agency's application has not been approved.")
            default:
                logger.notice(
                    "worker file access refused",
                    metadata: [
                        "worker": "\(workerID.uuid.text)", "user": "\(caller.userUUID?.text ?? "-")", "role": "\(caller.principal.role.rawValue)",
                    ]
                )
                throw RegistryError.notFound("Worker")
            }
        }
        let file = try Self.fileDecoder.decode(WorkerFile.self, from: Data(json.utf8))
        return CreditReport.build(
            file,
            policy: .init(
                recentReviews: policy.reportRecentReviews,
                tenureFields: Set(custody.reportTenureFields),
                sectors: sectors,
                demerits: demerits
            ),
            today: today,
            now: Instant(clock.now),
            reader: reader
        )
    }

    /// Engagements listed on a report (the count and days cover all of them).
    static let reportEngagementItems = 50

    /// The database's JSON of her file: snake_case keys, times as seconds since 1970.
    static let fileDecoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    // MARK: Signed reports

    /// The report as a signed document: `payload` is the canonical JSON (sorted keys, ISO dates)
    /// of the report with when it was issued, until when it is valid and which registry key
    /// signed it; `signature` is Ed25519 over the payload's UTF-8 bytes. Any changed byte fails
    /// verification.
    public struct SignedReport: Sendable, Codable, Equatable {
        public var payload: String
        public var signature: String
        public var algorithm: String
        public var publicKey: String
        /// The signing key's id (also inside the payload, where the signature covers it).
        public var keyId: String?

        enum CodingKeys: String, CodingKey {
            case payload, signature, algorithm
            case publicKey = "public_key"
            case keyId = "key_id"
        }
    }

    /// What the signature covers.
    public struct SignedPayload: Sendable, Codable {
        public var report: Report
        public var issuedAt: Date
        public var expiresAt: Date
        public var keyId: String
    }

    public static let canonicalEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }()

    /// A key's id: the first 16 hex digits of the SHA-256 of its raw public key.
    public static func keyID(_ key: Curve25519.Signing.PublicKey) -> String {
        String(Data(SHA256.hash(data: key.rawRepresentation)).hex.prefix(16))
    }

    public func sign(_ report: Report, now: Date? = nil) throws -> SignedReport {
        let now = now ?? clock.now
        let keyID = Self.keyID(keys.signingKey.publicKey)
        let signed = SignedPayload(
            report: report,
            issuedAt: now,
            expiresAt: now.addingTimeInterval(Double(policy.signedReportValidDays) * 86_400),
            keyId: keyID
        )
        let payload = String(decoding: try Self.canonicalEncoder.encode(signed), as: UTF8.self)
        let signature = try keys.signingKey.signature(for: Data(payload.utf8))
        return SignedReport(
            payload: payload,
            signature: signature.base64EncodedString(),
            algorithm: "Ed25519",
            publicKey: keys.signingKey.publicKey.rawRepresentation.base64EncodedString(),
            keyId: keyID
        )
    }

    public var publicKey: String { keys.signingKey.publicKey.rawRepresentation.base64EncodedString() }

    public struct Verification: Sendable, Codable, Equatable {
        public var valid: Bool
        public var workerId: String?
        public var generatedAt: String?
        public var issuedAt: String?
        public var expiresAt: String?
        public var keyId: String?
        public var reason: String?
    }

    /// Checks a signed report against this registry's key (never the key inside the document),
    /// and that it has not expired.
    public static func verify(_ document: SignedReport, publicKey: Curve25519.Signing.PublicKey, now: Date) -> Verification {
        // The envelope's fields outside the payload are not signed, so they must name exactly the key that checks it.
        guard document.algorithm == "Ed25519" else {
            return Verification(
                valid: false,
                reason: "the report names the algorithm '\(document.algorithm.prefix(40))'; reports are signed with Ed25519"
            )
        }
        guard document.publicKey == publicKey.rawRepresentation.base64EncodedString(),
            document.keyId == nil || document.keyId == keyID(publicKey)
        else {
            return Verification(valid: false, reason: "the report's public_key or key_id is not the key that verifies it: the envelope was changed")
        }
        guard let signature = Data(base64Encoded: document.signature) else {
            return Verification(valid: false, reason: "the signature is not base64")
        }
        guard publicKey.isValidSignature(signature, for: Data(document.payload.utf8)) else {
            return Verification(valid: false, reason: "the signature does not match the report: it was changed or not issued by this registry")
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(document.payload.utf8))) as? [String: Any]
        let report = object?["report"] as? [String: Any]
        let worker = (report?["worker"] as? [String: Any])?["id"] as? String
        let issued = object?["issued_at"] as? String
        let expires = object?["expires_at"] as? String
        var result = Verification(
            valid: true,
            workerId: worker,
            generatedAt: report?["generated_at"] as? String,
            issuedAt: issued,
            expiresAt: expires,
            keyId: object?["key_id"] as? String
        )
        let iso = ISO8601DateFormatter()
        guard let expires, let expiry = iso.date(from: expires) else {
            result.valid = false
            result.reason = "the report carries no expiry: it was issued before reports expired, ask for a new one"
            return result
        }
        guard expiry > now else {
            result.valid = false
            result.reason = "the report was issued \(issued ?? "?") and expired \(expires): ask for a new one"
            return result
        }
        return result
    }

    public func verify(_ document: SignedReport) -> Verification {
        Self.verify(document, publicKey: keys.signingKey.publicKey, now: clock.now)
    }

    // MARK: Inquiries, search, public lookup

    public func inquiries(caller: Caller, logger: Logger) async throws -> [Inquiry] {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await InquiryStore.list(workerID: worker, limit: 500, on: connection, logger: logger).map(Inquiry.init)
        }
    }

    public struct Search: Sendable {
        public var region: String?
        public var category: String?
        public var minLevel: Int?
        public var minGrade: String?
        public var limit: Int
        public var offset: Int
        /// A sector's id: workers holding any of its categories.
        public var sector: String?
        /// Only workers on the red list.
        public var redListOnly: Bool

        public init(
            region: String?,
            category: String?,
            minLevel: Int?,
            minGrade: String?,
            limit: Int,
            offset: Int,
            sector: String? = nil,
            redListOnly: Bool = false
        ) {
            self.sector = sector
            self.redListOnly = redListOnly
            self.region = region
            self.category = category
            self.minLevel = minLevel
            self.minGrade = minGrade
            self.limit = limit
            self.offset = offset
        }
    }

    /// A worker listed for hire, as any employer may see her before she consents: her family
    /// name only, her age and province (no birth date, no county), categories, top level, grade.
    public struct Listing: Sendable, Codable, Equatable {
        public var id: String
        public var displayName: String
        public var age: Int
        public var homeProvince: String
        public var categories: [String]
        public var grade: String?
        public var topLevel: Int?
        /// On the red list (she opted in and meets its rule today).
        public var redList: Bool

        enum CodingKeys: String, CodingKey {
            case id, age, categories, grade
            case displayName = "display_name"
            case homeProvince = "home_province"
            case topLevel = "top_level"
            case redList = "red_list"
        }

        init(_ l: ReportStore.Listing, today: CivilDate) {
            id = l.id.text
            displayName = String(l.fullName.prefix(1)) + "**"
            age = CivilDate(iso: l.birthDate).map { $0.years(until: today) } ?? 0
            homeProvince = String(l.homeRegion.prefix(2)) + "0000"
            categories = l.categories
            grade = l.grade
            topLevel = l.topLevel
            redList = l.onRedList
        }
    }

    /// Workers listed for hire — the full report still needs her consent. Bounded (a page of at
    /// most `search_page_max`, no deeper than `search_offset_max`) and throttled per caller.
    public func searchAvailable(_ s: Search, caller: Caller, logger: Logger) async throws -> [Listing] {
        let who = caller.userUUID?.text ?? "anonymous"
        guard try await RateLimitStore.hit(key: "search:" + who, limit: policy.searchesPerMinute, per: .minute, database: database, logger: logger)
        else {
            throw RegistryError.throttled(retryAfterSeconds: RateLimitStore.Window.minute.secondsLeft())
        }
        if let region = s.region, !(region.count == 6 && region.allSatisfy({ $0.isASCII && $0.isNumber })) {
            throw RegistryError.invalid("region", "region is a 6-digit division code (a province: 320000, a city: 320100).")
        }
        let category = try s.category.map { try sectors.parseCategory($0).rawValue }
        var sectorCategories: [String]?
        if let sector = s.sector {
            guard let found = sectors.sector(sector) else {
                throw RegistryError.invalid(
                    "sector",
                    "Unknown sector '\(sector.prefix(40))'. Known: \(sectors.sectors.map(\.id).joined(separator: ", ")).",
                    code: "unknown_sector"
                )
            }
            sectorCategories = found.categories.map(\.id)
        }
        if let level = s.minLevel, !(1...5).contains(level) { throw RegistryError.invalid("min_level", "min_level is 1 to 5.") }
        var grades: [String]?
        if let minGrade = s.minGrade {
            let bands = ["A", "B", "C", "D"]
            guard let i = bands.firstIndex(of: minGrade.uppercased()) else { throw RegistryError.invalid("min_grade", "min_grade is A, B, C or D.") }
            grades = Array(bands[...i])
        }
        guard (1...policy.searchPageMax).contains(s.limit) else {
            throw RegistryError.invalid("limit", "limit is 1 to \(policy.searchPageMax).")
        }
        guard (0...policy.searchOffsetMax).contains(s.offset) else {
            throw RegistryError.invalid("offset", "offset is 0 to \(policy.searchOffsetMax): narrow the search instead.")
        }
        let today = clock.today
        // A listing may be a few seconds old: the read copy serves it while it is fresh.
        return try await database.withReadConnection { connection in
            try await ReportStore.available(
                region: s.region,
                category: category,
                minLevel: s.minLevel,
                grades: grades,
                sectorCategories: sectorCategories,
                redListOnly: s.redListOnly,
                redList: redListRule(today: today),
                limit: s.limit,
                offset: s.offset,
                on: connection,
                logger: logger
            )
        }.map { Listing($0, today: today) }
    }

    /// The red list's rule on `today`.
    func redListRule(today: CivilDate) -> RedListRule {
        RedListRule(grade: redList.grade.rawValue, heldSince: today.adding(days: -redList.minDays).iso, today: today.iso)
    }

    /// Public: is the person with this ID number barred from practice? Nothing else, and
    /// rate-limited per address.
    public func banStatus(idNumber: String, clientAddress: String?, logger: Logger) async throws -> Bool {
        let key = ThrottleKeys.hashed("ban-lookup", clientAddress ?? "unknown")
        let perMinute = policy.lookupsPerMinute(for: clientAddress)
        /// Counts this lookup on the primary on its own, refusing it past the limit.
        func count() async throws {
            guard try await RateLimitStore.hit(key: key, perMinute: perMinute, database: database, logger: logger) else {
                throw RegistryError.throttled(retryAfterSeconds: RateLimitStore.Window.minute.secondsLeft())
            }
        }
        let id: NationalID
        do {
            id = try NationalID(idNumber, today: clock.today)
        } catch {
            // A malformed number counts against the limit too, and being over it is said first.
            try await count()
            throw error
        }
        if database.readsFromReplica {
            // With a fresh read copy: the count on the primary, the answer from the copy.
            try await count()
            return try await ReportStore.banned(blindIndex: Data(keys.blindIndex(id)), database: database, logger: logger)
        }
        // The throttle's count and the answer: one statement.
        guard
            let revoked = try await ReportStore.banLookup(
                throttleKey: key,
                perMinute: perMinute,
                blindIndex: Data(keys.blindIndex(id)),
                database: database,
                logger: logger
            )
        else {
            throw RegistryError.throttled(retryAfterSeconds: RateLimitStore.Window.minute.secondsLeft())
        }
        return revoked
    }
}
