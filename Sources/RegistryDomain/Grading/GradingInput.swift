/// Everything the grader looks at for one worker, as plain values. The caller reads them from
/// storage (hidden reviews left out) and passes `today`; the grader reads no clock.
///
/// Decodes from snake_case keys, with every list optional (empty) and `barred`/`suspended`
/// false when absent, so that the policy's examples stay short.
public struct GradingInput: Sendable, Equatable, Codable {
    /// One skill assessment in a service category, level 1-5 (初级 ... 高级技师).
    public struct SkillAssessment: Sendable, Equatable, Codable, Hashable {
        public var category: ServiceCategory
        public var level: Int
        public var assessedOn: CivilDate

        public init(category: ServiceCategory, level: Int, assessedOn: CivilDate) {
            self.category = category
            self.level = level
            self.assessedOn = assessedOn
        }

        enum CodingKeys: String, CodingKey {
            case category, level
            case assessedOn = "assessed_on"
        }
    }

    /// A training or certificate. `category` is the service it is for (nil: general).
    public struct Qualification: Sendable, Equatable, Codable, Hashable {
        public var kind: QualificationKind
        public var category: ServiceCategory?
        public var issuedOn: CivilDate
        public var expiresOn: CivilDate?

        public init(kind: QualificationKind, category: ServiceCategory?, issuedOn: CivilDate, expiresOn: CivilDate? = nil) {
            self.kind = kind
            self.category = category
            self.issuedOn = issuedOn
            self.expiresOn = expiresOn
        }

        /// Issued by `day` and not expired on it (the expiry day itself still counts).
        public func isValid(on day: CivilDate) -> Bool {
            issuedOn <= day && (expiresOn.map { $0 >= day } ?? true)
        }

        enum CodingKeys: String, CodingKey {
            case kind, category
            case issuedOn = "issued_on"
            case expiresOn = "expires_on"
        }
    }

    public struct HealthCertificate: Sendable, Equatable, Codable, Hashable {
        public var issuedOn: CivilDate
        public var validUntil: CivilDate
        public var result: HealthResult

        public init(issuedOn: CivilDate, validUntil: CivilDate, result: HealthResult = .fit) {
            self.issuedOn = issuedOn
            self.validUntil = validUntil
            self.result = result
        }

        public func isValid(on day: CivilDate) -> Bool { issuedOn <= day && day <= validUntil }

        enum CodingKeys: String, CodingKey {
            case result
            case issuedOn = "issued_on"
            case validUntil = "valid_until"
        }
    }

    /// An employer's (visible) review: dimension name → score 1-5. Absent dimensions were not
    /// scored; scores outside 1-5 and dimensions the policy does not know are ignored.
    /// `category` is the engagement's service: the review's skill scores then nudge only that
    /// category's level (nil: any category whose dimensions it scored).
    public struct Review: Sendable, Equatable, Codable, Hashable {
        public var reviewedOn: CivilDate
        public var category: ServiceCategory?
        public var skill: [String: Int]
        public var ethics: [String: Int]

        public init(reviewedOn: CivilDate, category: ServiceCategory? = nil, skill: [String: Int] = [:], ethics: [String: Int] = [:]) {
            self.reviewedOn = reviewedOn
            self.category = category
            self.skill = skill
            self.ethics = ethics
        }

        enum CodingKeys: String, CodingKey {
            case category, skill, ethics
            case reviewedOn = "reviewed_on"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            reviewedOn = try c.decode(CivilDate.self, forKey: .reviewedOn)
            category = try c.decodeIfPresent(ServiceCategory.self, forKey: .category)
            skill = try c.decodeIfPresent([String: Int].self, forKey: .skill) ?? [:]
            ethics = try c.decodeIfPresent([String: Int].self, forKey: .ethics) ?? [:]
        }
    }

    /// An agency's ethics rating (1-5) of the worker for its tenure. A sealed tenure's rating is
    /// final; an open tenure's is provisional (and usually weighs less).
    public struct AgencyRating: Sendable, Equatable, Codable, Hashable {
        public var rating: Int
        public var ratedOn: CivilDate
        public var sealed: Bool

        public init(rating: Int, ratedOn: CivilDate, sealed: Bool) {
            self.rating = rating
            self.ratedOn = ratedOn
            self.sealed = sealed
        }

        enum CodingKeys: String, CodingKey {
            case rating, sealed
            case ratedOn = "rated_on"
        }
    }

    /// A police or credit-bureau record. Retracted or expired flags count for nothing.
    public struct Flag: Sendable, Equatable, Codable, Hashable {
        public var category: FlagCategory
        public var severity: Int
        public var status: FlagStatus
        public var occurredOn: CivilDate
        public var expiresOn: CivilDate?

        public init(category: FlagCategory, severity: Int, status: FlagStatus, occurredOn: CivilDate, expiresOn: CivilDate? = nil) {
            self.category = category
            self.severity = severity
            self.status = status
            self.occurredOn = occurredOn
            self.expiresOn = expiresOn
        }

        /// Expired: its expiry day is before `day`.
        public func isExpired(on day: CivilDate) -> Bool { expiresOn.map { $0 < day } ?? false }

        /// Counts on `day`: neither retracted nor expired.
        public func counts(on day: CivilDate) -> Bool { status != .retracted && !isExpired(on: day) }

        enum CodingKeys: String, CodingKey {
            case category, severity, status
            case occurredOn = "occurred_on"
            case expiresOn = "expires_on"
        }
    }

    public var today: CivilDate
    /// The service categories she is registered in: they choose the sector's composite weights
    /// and are graded even before any assessment.
    public var categories: [ServiceCategory]
    public var assessments: [SkillAssessment]
    public var qualifications: [Qualification]
    public var healthCertificates: [HealthCertificate]
    public var reviews: [Review]
    public var agencyRatings: [AgencyRating]
    public var flags: [Flag]
    /// An active ban: the grade is REVOKED whatever the scores.
    public var barred: Bool
    /// An interim suspension while a case is open: shown as a reason, scores unchanged.
    public var suspended: Bool

    public init(
        today: CivilDate,
        categories: [ServiceCategory] = [],
        assessments: [SkillAssessment] = [],
        qualifications: [Qualification] = [],
        healthCertificates: [HealthCertificate] = [],
        reviews: [Review] = [],
        agencyRatings: [AgencyRating] = [],
        flags: [Flag] = [],
        barred: Bool = false,
        suspended: Bool = false
    ) {
        self.today = today
        self.categories = categories
        self.assessments = assessments
        self.qualifications = qualifications
        self.healthCertificates = healthCertificates
        self.reviews = reviews
        self.agencyRatings = agencyRatings
        self.flags = flags
        self.barred = barred
        self.suspended = suspended
    }

    enum CodingKeys: String, CodingKey {
        case today, categories, assessments, qualifications, reviews, flags, barred, suspended
        case healthCertificates = "health_certificates"
        case agencyRatings = "agency_ratings"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        today = try c.decode(CivilDate.self, forKey: .today)
        categories = try c.decodeIfPresent([ServiceCategory].self, forKey: .categories) ?? []
        assessments = try c.decodeIfPresent([SkillAssessment].self, forKey: .assessments) ?? []
        qualifications = try c.decodeIfPresent([Qualification].self, forKey: .qualifications) ?? []
        healthCertificates = try c.decodeIfPresent([HealthCertificate].self, forKey: .healthCertificates) ?? []
        reviews = try c.decodeIfPresent([Review].self, forKey: .reviews) ?? []
        agencyRatings = try c.decodeIfPresent([AgencyRating].self, forKey: .agencyRatings) ?? []
        flags = try c.decodeIfPresent([Flag].self, forKey: .flags) ?? []
        barred = try c.decodeIfPresent(Bool.self, forKey: .barred) ?? false
        suspended = try c.decodeIfPresent(Bool.self, forKey: .suspended) ?? false
    }
}
