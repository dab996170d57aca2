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

    public struct Report: Sendable, Codable {
        public struct Person: Sendable, Codable {
            public var id: String
            public var fullName: String
            public var sex: String
            public var age: Int
            public var homeProvince: String
            public var serviceCategories: [String]
            public var status: String
        }

        public struct Grade: Sendable, Codable {
            public var grade: String
            public var composite: Double
            public var ethicsScore: Double
            public var skillScore: Double
            public var reasons: [ReasonCode]
            public var policyVersion: String
            public var computedAt: Date
        }

        public struct ReasonCode: Sendable, Codable {
            public var code: String
            public var contribution: Double?
        }

        public struct Skill: Sendable, Codable {
            public var category: String
            public var level: Int
            public var levelName: String
            public var assessedOn: String
        }

        public struct Qualification: Sendable, Codable {
            public var kind: String
            public var title: String
            public var issuer: String
            public var issuedOn: String
            public var expiresOn: String?
            public var valid: Bool
        }

        public struct Health: Sendable, Codable {
            public var validUntil: String?
            public var valid: Bool
        }

        public struct Tenure: Sendable, Codable {
            public var agency: String?
            public var startedOn: String?
            public var endedOn: String?
            public var workAbility: String?
            public var healthStatus: String?
            public var feedbackSummary: String?
            public var ethicsRating: Int?
            public var ethicsNote: String?
            public var sealed: String?
            /// The agency's assessment was overturned on her dispute: shown struck through with
            /// the administrator's reason, never as a live rating (absent otherwise).
            public var overturned: Overturned? = nil

            public struct Overturned: Sendable, Codable, Equatable {
                public var reason: String
                public var overturnedOn: String
            }
        }

        public struct Engagements: Sendable, Codable {
            public var count: Int
            public var totalDays: Int
            public var items: [Item]

            public struct Item: Sendable, Codable {
                public var category: String
                public var startsOn: String
                public var endsOn: String?
                public var days: Int
            }
        }

        public struct Reviews: Sendable, Codable {
            public var count: Int
            public var skillAverages: [String: Double]
            public var ethicsAverages: [String: Double]
            public var recent: [Item]

            public struct Item: Sendable, Codable {
                public var id: String
                public var date: Date
                /// The household's name for the worker, her agency, administrators and the household itself;
                /// nil for any other employer reading the report (she sees "another household").
                public var household: String?
                public var skillScores: [String: Int]
                public var ethicsScores: [String: Int]
                public var comment: String?
                public var reply: String?
            }
        }

        public var worker: Person
        public var currentAgency: String
        public var grade: Grade?
        public var skills: [Skill]
        public var qualifications: [Qualification]
        public var health: Health
        public var tenures: [Tenure]
        public var engagements: Engagements
        public var reviews: Reviews
        public var flags: [Flag]
        public var standing: Standing
        public var generatedAt: Date

        /// A flag as the report shows it (never its narrative). The report's own type: the signed
        /// document's format does not follow the storage rows.
        public struct Flag: Sendable, Codable, Equatable {
            public var source: String
            public var sourceKind: String
            public var category: String
            public var occurredOn: String
            public var status: String

            init(_ f: ReportStore.FlagSummary) {
                self.source = f.source
                self.sourceKind = f.sourceKind
                self.category = f.category
                self.occurredOn = f.occurredOn
                self.status = f.status
            }
        }

        /// Whether she is barred or suspended now, and since when.
        public struct Standing: Sendable, Codable, Equatable {
            public var revoked: Bool
            public var revokedSince: Date?
            public var suspended: Bool
            public var suspendedSince: Date?

            init(_ s: ReportStore.Standing) {
                self.revoked = s.revoked
                self.revokedSince = s.revokedSince
                self.suspended = s.suspended
                self.suspendedSince = s.suspendedSince
            }
        }
    }

    /// Who may read: an employer with a redeemed consent or a confirmed engagement; the agency in
    /// custody; administrators, with a stated purpose; the worker herself. Every view but hers is
    /// an inquiry.
    public func report(_ workerID: WorkerID, purpose stated: String? = nil, caller: Caller, logger: Logger) async throws -> Report {
        // Only administrators must state one; a purpose anyone sends must be one of the known.
        if let stated, caller.principal.role != .admin { _ = try AdminReadPurpose.parse(stated) }
        let adminPurpose = caller.principal.role == .admin ? try AdminReadPurpose.parse(stated) : nil
        return try await database.transaction(logger: logger) { connection in
            var consentID: UUID?
            var engagementID: UUID?
            let purpose: String
            switch caller.principal.role {
            case .employer:
                guard let employer = caller.userUUID, try await WorkerStore.get(workerID.uuid, on: connection, logger: logger) != nil else {
                    throw RegistryError.notFound("Worker")
                }
                engagementID = try await EngagementStore.active(employer: employer, worker: workerID.uuid, on: connection, logger: logger)
                if engagementID == nil {
                    consentID = try await ConsentStore.access(employer: employer, worker: workerID.uuid, on: connection, logger: logger)
                }
                guard engagementID != nil || consentID != nil else {
                    throw RegistryError(
                        .forbidden,
                        code: "consent_required",
                        message: "Ask the worker for a consent code and redeem it first (POST /api/v1/consents/redeem)."
                    )
                }
                purpose = engagementID != nil ? "engagement" : "pre_hire_check"
            case .admin:
                guard try await WorkerStore.get(workerID.uuid, on: connection, logger: logger) != nil else { throw RegistryError.notFound("Worker") }
                purpose = adminPurpose?.rawValue ?? "audit"
            case .agencyStaff:
                _ = try await WorkerAccess.visible(workerID.uuid, caller: caller, write: false, on: connection, logger: logger)
                purpose = "custody"
            case .worker where caller.principal.workerID == workerID:
                purpose = "self"
            default:
                throw RegistryError.notFound("Worker")
            }
            let report = try await build(workerID.uuid, viewer: caller, on: connection, logger: logger)
            if purpose != "self" {
                try await InquiryStore.record(
                    workerID: workerID.uuid,
                    viewer: caller.userUUID,
                    role: caller.principal.role.rawValue,
                    purpose: purpose,
                    consentID: consentID,
                    engagementID: engagementID,
                    on: connection,
                    logger: logger
                )
                try await AuditStore.append(
                    caller.event(
                        "report.viewed",
                        "worker",
                        workerID.uuid,
                        [
                            "purpose": .string(purpose), "consent": AuditValue(consentID?.text), "engagement": AuditValue(engagementID?.text),
                        ]
                    ),
                    on: connection,
                    logger: logger
                )
            }
            return report
        }
    }

    /// Engagements listed on a report (the count and days cover all of them).
    static let reportEngagementItems = 50

    func build(_ workerID: UUID, viewer: Caller, on connection: DatabaseConnection, logger: Logger) async throws -> Report {
        let today = clock.today
        guard let w = try await WorkerStore.get(workerID, on: connection, logger: logger) else { throw RegistryError.notFound("Worker") }
        let agency = try await AgencyStore.find(id: w.currentAgencyID, on: connection, logger: logger)
        let birth = CivilDate(iso: w.birthDate) ?? today
        let grade = try await ReportStore.grade(workerID, on: connection, logger: logger).map { g in
            Report.Grade(
                grade: g.grade,
                composite: g.composite,
                ethicsScore: g.ethicsScore,
                skillScore: g.skillScore,
                reasons: Self.reasons(g.reasons),
                policyVersion: g.policyVersion,
                computedAt: g.computedAt
            )
        }
        var latest: [String: QualificationStore.SkillAssessment] = [:]
        for s in try await QualificationStore.skills(workerID: workerID, on: connection, logger: logger) where latest[s.category] == nil {
            latest[s.category] = s  // ordered newest first per category
        }
        let skills = latest.values.sorted { $0.category < $1.category }.map {
            Report.Skill(
                category: $0.category,
                level: $0.level,
                levelName: SkillLevel(rawValue: $0.level)?.chineseName ?? "",
                assessedOn: $0.assessedOn
            )
        }
        let qualifications = try await QualificationStore.trainings(workerID: workerID, on: connection, logger: logger).map {
            Report.Qualification(
                kind: $0.kind,
                title: $0.title,
                issuer: $0.issuer,
                issuedOn: $0.issuedOn,
                expiresOn: $0.expiresOn,
                valid: $0.expiresOn.flatMap(CivilDate.init(iso:)).map { $0 >= today } ?? true
            )
        }
        let health = try await QualificationStore.healthCertificates(workerID: workerID, on: connection, logger: logger)
            .max { $0.validUntil < $1.validUntil }
        let fields = Set(custody.reportTenureFields)
        let tenures = try await TenureStore.list(workerID: workerID, on: connection, logger: logger).map { t in
            Report.Tenure(
                agency: fields.contains("agency") ? t.agencyName : nil,
                startedOn: fields.contains("period") ? t.startedOn : nil,
                endedOn: fields.contains("period") ? t.endedOn : nil,
                workAbility: fields.contains("work_ability") ? t.workAbility : nil,
                healthStatus: fields.contains("health_status") ? t.healthStatus : nil,
                feedbackSummary: fields.contains("feedback_summary") ? t.feedbackSummary : nil,
                ethicsRating: fields.contains("ethics_rating") ? t.ethicsRating : nil,
                ethicsNote: fields.contains("ethics_note") ? t.ethicsNote : nil,
                sealed: fields.contains("sealed") ? t.sealedHow.map { $0 == "agency" ? "sealed" : "sealed_by_deadline" } ?? "open" : nil,
                overturned: t.overturnedReason.map { .init(reason: $0, overturnedOn: t.overturnedOn ?? "") }
            )
        }
        // Counts and averages over everything, computed by PostgreSQL; the items shown are the newest only.
        let engagementSummary = try await EngagementStore.summary(workerID: workerID, today: today.iso, on: connection, logger: logger)
        let engagements = try await EngagementStore.forWorker(
            workerID,
            statuses: ["confirmed", "ended"],
            limit: Self.reportEngagementItems,
            on: connection,
            logger: logger
        )
        .map { e -> Report.Engagements.Item in
            let start = CivilDate(iso: e.startsOn) ?? today
            let end = e.endsOn.flatMap(CivilDate.init(iso:)) ?? today
            return .init(category: e.category, startsOn: e.startsOn, endsOn: e.endsOn, days: max(0, end.daysSinceEpoch - start.daysSinceEpoch))
        }
        let reviewSummary = try await ReviewStore.summary(workerID: workerID, on: connection, logger: logger)
        let reviews = try await ReviewStore.forWorker(
            workerID,
            includeHidden: false,
            limit: policy.reportRecentReviews,
            on: connection,
            logger: logger
        )
        func averages(_ sums: [String: (sum: Int, count: Int)]) -> [String: Double] {
            sums.mapValues { (Double($0.sum) / Double($0.count) * 100).rounded() / 100 }
        }
        return Report(
            worker: .init(
                id: w.id.text,
                fullName: w.fullName,
                sex: w.sex,
                age: birth.years(until: today),
                homeProvince: String(w.homeRegion.prefix(2)) + "0000",
                serviceCategories: w.categories,
                status: w.status
            ),
            currentAgency: agency?.name ?? "",
            grade: grade,
            skills: skills,
            qualifications: qualifications,
            health: .init(
                validUntil: health?.validUntil,
                valid: health.map { (CivilDate(iso: $0.validUntil).map { $0 >= today } ?? false) && $0.result != "unfit" } ?? false
            ),
            tenures: tenures,
            engagements: .init(count: engagementSummary.count, totalDays: engagementSummary.days, items: engagements),
            reviews: .init(
                count: reviewSummary.count,
                skillAverages: averages(reviewSummary.skill),
                ethicsAverages: averages(reviewSummary.ethics),
                recent: reviews.prefix(policy.reportRecentReviews).map {
                    .init(
                        id: $0.id.text,
                        date: $0.createdAt,
                        household: viewer.principal.role != .employer || $0.employerID == viewer.userUUID ? $0.employerName : nil,
                        skillScores: $0.skillScores,
                        ethicsScores: $0.ethicsScores,
                        comment: $0.comment,
                        reply: $0.reply
                    )
                }
            ),
            flags: try await ReportStore.flags(workerID, today: today.iso, on: connection, logger: logger).map(Report.Flag.init),
            standing: Report.Standing(try await ReportStore.standing(workerID, on: connection, logger: logger)),
            generatedAt: Date(timeIntervalSince1970: clock.now.timeIntervalSince1970.rounded(.down))
        )
    }

    static func reasons(_ json: String) -> [Report.ReasonCode] {
        guard let data = json.data(using: .utf8), let list = try? JSONSerialization.jsonObject(with: data) as? [Any] else { return [] }
        return list.compactMap { item in
            if let code = item as? String { return Report.ReasonCode(code: code, contribution: nil) }
            if let object = item as? [String: Any], let code = object["code"] as? String {
                return Report.ReasonCode(code: code, contribution: object["contribution"] as? Double)
            }
            return nil
        }
    }

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

        public init(region: String?, category: String?, minLevel: Int?, minGrade: String?, limit: Int, offset: Int) {
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

        enum CodingKeys: String, CodingKey {
            case id, age, categories, grade
            case displayName = "display_name"
            case homeProvince = "home_province"
            case topLevel = "top_level"
        }

        init(_ l: ReportStore.Listing, today: CivilDate) {
            id = l.id.text
            displayName = String(l.fullName.prefix(1)) + "**"
            age = CivilDate(iso: l.birthDate).map { $0.years(until: today) } ?? 0
            homeProvince = String(l.homeRegion.prefix(2)) + "0000"
            categories = l.categories
            grade = l.grade
            topLevel = l.topLevel
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
        let category = try s.category.map { try ServiceCategory.parseList([$0], field: "category")[0].rawValue }
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
        return try await database.withConnection { connection in
            try await ReportStore.available(
                region: s.region,
                category: category,
                minLevel: s.minLevel,
                grades: grades,
                limit: s.limit,
                offset: s.offset,
                on: connection,
                logger: logger
            )
        }.map { Listing($0, today: today) }
    }

    /// Public: is the person with this ID number barred from practice? Nothing else, and
    /// rate-limited per address.
    public func banStatus(idNumber: String, clientAddress: String?, logger: Logger) async throws -> Bool {
        let key = ThrottleKeys.hashed("ban-lookup", clientAddress ?? "unknown")
        guard try await RateLimitStore.hit(key: key, perMinute: policy.publicLookupsPerMinute, database: database, logger: logger) else {
            throw RegistryError.throttled(retryAfterSeconds: 60)
        }
        let id = try NationalID(idNumber, today: clock.today)
        return try await ReportStore.isRevoked(blindIndex: Data(keys.blindIndex(id)), database: database, logger: logger)
    }
}
