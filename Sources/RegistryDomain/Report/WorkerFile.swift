/// Everything a credit report is made from, as one read of the database returns it: the worker,
/// her grade, qualifications, tenures, the newest engagements and reviews with the counts and
/// averages over all of them, flags and standing. The domain's own shape (snake_case keys when
/// encoded): storage fills it, `CreditReport.build` reads it, neither follows the other's columns.
public struct WorkerFile: Sendable, Codable, Equatable {
    public struct Person: Sendable, Codable, Equatable {
        public var id: String
        public var fullName: String
        /// ISO date.
        public var birthDate: String
        public var sex: String
        /// The 6-digit division code of her home county.
        public var homeRegion: String
        public var categories: [String]
        public var status: String

        public init(id: String, fullName: String, birthDate: String, sex: String, homeRegion: String, categories: [String], status: String) {
            self.id = id
            self.fullName = fullName
            self.birthDate = birthDate
            self.sex = sex
            self.homeRegion = homeRegion
            self.categories = categories
            self.status = status
        }
    }

    public struct Grade: Sendable, Codable, Equatable {
        public var grade: String
        public var composite: Double
        public var ethicsScore: Double
        public var skillScore: Double
        public var reasons: [Reason]
        public var policyVersion: String
        public var computedAt: Instant

        public init(
            grade: String,
            composite: Double,
            ethicsScore: Double,
            skillScore: Double,
            reasons: [Reason],
            policyVersion: String,
            computedAt: Instant
        ) {
            self.grade = grade
            self.composite = composite
            self.ethicsScore = ethicsScore
            self.skillScore = skillScore
            self.reasons = reasons
            self.policyVersion = policyVersion
            self.computedAt = computedAt
        }

        enum CodingKeys: String, CodingKey { case grade, composite, ethicsScore, skillScore, reasons, policyVersion, computedAt }

        public init(from decoder: any Decoder) throws {
            struct Lenient: Decodable {
                var reason: Reason?
                init(from decoder: any Decoder) throws { reason = try? Reason(from: decoder) }
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            grade = try c.decode(String.self, forKey: .grade)
            composite = try c.decode(Double.self, forKey: .composite)
            ethicsScore = try c.decode(Double.self, forKey: .ethicsScore)
            skillScore = try c.decode(Double.self, forKey: .skillScore)
            reasons = (try c.decodeIfPresent([Lenient].self, forKey: .reasons) ?? []).compactMap(\.reason)
            policyVersion = try c.decode(String.self, forKey: .policyVersion)
            computedAt = try c.decode(Instant.self, forKey: .computedAt)
        }
    }

    /// A reason code of a grade, with what it contributed when the grader says. Stored either as a
    /// bare code or as `{"code": …, "contribution": …}`; anything else is not a reason and is skipped
    /// by `Grade`'s decoding rather than failing the whole report.
    public struct Reason: Sendable, Codable, Equatable {
        public var code: String
        public var contribution: Double?

        public init(code: String, contribution: Double? = nil) {
            self.code = code
            self.contribution = contribution
        }

        enum CodingKeys: String, CodingKey { case code, contribution }

        public init(from decoder: any Decoder) throws {
            if let code = try? decoder.singleValueContainer().decode(String.self) {
                self.init(code: code)
                return
            }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(code: try c.decode(String.self, forKey: .code), contribution: try c.decodeIfPresent(Double.self, forKey: .contribution))
        }
    }

    /// Her newest assessment in one category.
    public struct Skill: Sendable, Codable, Equatable {
        public var category: String
        public var level: Int
        public var assessedOn: String

        public init(category: String, level: Int, assessedOn: String) {
            self.category = category
            self.level = level
            self.assessedOn = assessedOn
        }
    }

    public struct Training: Sendable, Codable, Equatable {
        public var kind: String
        public var title: String
        public var issuer: String
        public var issuedOn: String
        public var expiresOn: String?

        public init(kind: String, title: String, issuer: String, issuedOn: String, expiresOn: String?) {
            self.kind = kind
            self.title = title
            self.issuer = issuer
            self.issuedOn = issuedOn
            self.expiresOn = expiresOn
        }
    }

    /// The health certificate valid the longest.
    public struct Health: Sendable, Codable, Equatable {
        public var validUntil: String
        public var result: String

        public init(validUntil: String, result: String) {
            self.validUntil = validUntil
            self.result = result
        }
    }

    public struct Tenure: Sendable, Codable, Equatable {
        public var agency: String
        public var startedOn: String
        public var endedOn: String?
        public var workAbility: String?
        public var healthStatus: String?
        public var feedbackSummary: String?
        public var ethicsRating: Int?
        public var ethicsNote: String?
        /// `agency` or `deadline` once sealed.
        public var sealedHow: String?
        public var overturnedReason: String?
        public var overturnedOn: String?

        public init(
            agency: String,
            startedOn: String,
            endedOn: String? = nil,
            workAbility: String? = nil,
            healthStatus: String? = nil,
            feedbackSummary: String? = nil,
            ethicsRating: Int? = nil,
            ethicsNote: String? = nil,
            sealedHow: String? = nil,
            overturnedReason: String? = nil,
            overturnedOn: String? = nil
        ) {
            self.agency = agency
            self.startedOn = startedOn
            self.endedOn = endedOn
            self.workAbility = workAbility
            self.healthStatus = healthStatus
            self.feedbackSummary = feedbackSummary
            self.ethicsRating = ethicsRating
            self.ethicsNote = ethicsNote
            self.sealedHow = sealedHow
            self.overturnedReason = overturnedReason
            self.overturnedOn = overturnedOn
        }
    }

    public struct Engagement: Sendable, Codable, Equatable {
        public var category: String
        public var startsOn: String
        public var endsOn: String?

        public init(category: String, startsOn: String, endsOn: String?) {
            self.category = category
            self.startsOn = startsOn
            self.endsOn = endsOn
        }
    }

    public struct Review: Sendable, Codable, Equatable {
        public var id: String
        public var createdAt: Instant
        public var employerId: String
        public var household: String
        public var skillScores: [String: Int]
        public var ethicsScores: [String: Int]
        public var comment: String?
        public var reply: String?
        /// How the household confirmed the engagement the review rests on
        /// (`verified_phone`, `before_phone_verification`), and when.
        public var confirmedVia: String?
        public var confirmedAt: Instant?

        public init(
            id: String,
            createdAt: Instant,
            employerId: String,
            household: String,
            skillScores: [String: Int],
            ethicsScores: [String: Int],
            comment: String?,
            reply: String?,
            confirmedVia: String? = nil,
            confirmedAt: Instant? = nil
        ) {
            self.confirmedVia = confirmedVia
            self.confirmedAt = confirmedAt
            self.id = id
            self.createdAt = createdAt
            self.employerId = employerId
            self.household = household
            self.skillScores = skillScores
            self.ethicsScores = ethicsScores
            self.comment = comment
            self.reply = reply
        }
    }

    public struct Flag: Sendable, Codable, Equatable {
        public var source: String
        public var sourceKind: String
        public var category: String
        public var occurredOn: String
        public var status: String

        public init(source: String, sourceKind: String, category: String, occurredOn: String, status: String) {
            self.source = source
            self.sourceKind = sourceKind
            self.category = category
            self.occurredOn = occurredOn
            self.status = status
        }
    }

    /// The agency in custody as everyone may see it: its demerit level and points in force, and
    /// how many placements households confirmed (the database's `agency_standing`).
    public struct AgencyStanding: Sendable, Codable, Equatable {
        public var agencyId: String
        public var name: String
        public var level: String
        public var points: Int
        public var placements: Int

        public init(agencyId: String, name: String, level: String, points: Int, placements: Int) {
            self.agencyId = agencyId
            self.name = name
            self.level = level
            self.points = points
            self.placements = placements
        }
    }

    public var worker: Person
    public var agency: String?
    public var agencyStanding: AgencyStanding?
    public var grade: Grade?
    public var skills: [Skill]
    public var trainings: [Training]
    public var health: Health?
    public var tenures: [Tenure]
    /// Confirmed or ended engagements in all, and their days (a running one counts to the day of the read).
    public var engagementCount: Int
    public var engagementDays: Int
    /// The newest engagements, newest first, as many as the read was bounded to.
    public var engagements: [Engagement]
    /// Visible reviews in all, and per dimension the mean score over them, to two decimals.
    public var reviewCount: Int
    public var skillAverages: [String: Double]
    public var ethicsAverages: [String: Double]
    /// The newest visible reviews, newest first, as many as the policy shows.
    public var reviews: [Review]
    /// Live flags (not retracted, not expired, not repaired), newest first.
    public var flags: [Flag]
    public var bannedSince: Instant?
    public var suspendedSince: Instant?

    public init(
        worker: Person,
        agency: String? = nil,
        agencyStanding: AgencyStanding? = nil,
        grade: Grade? = nil,
        skills: [Skill] = [],
        trainings: [Training] = [],
        health: Health? = nil,
        tenures: [Tenure] = [],
        engagementCount: Int = 0,
        engagementDays: Int = 0,
        engagements: [Engagement] = [],
        reviewCount: Int = 0,
        skillAverages: [String: Double] = [:],
        ethicsAverages: [String: Double] = [:],
        reviews: [Review] = [],
        flags: [Flag] = [],
        bannedSince: Instant? = nil,
        suspendedSince: Instant? = nil
    ) {
        self.worker = worker
        self.agency = agency
        self.agencyStanding = agencyStanding
        self.grade = grade
        self.skills = skills
        self.trainings = trainings
        self.health = health
        self.tenures = tenures
        self.engagementCount = engagementCount
        self.engagementDays = engagementDays
        self.engagements = engagements
        self.reviewCount = reviewCount
        self.skillAverages = skillAverages
        self.ethicsAverages = ethicsAverages
        self.reviews = reviews
        self.flags = flags
        self.bannedSince = bannedSince
        self.suspendedSince = suspendedSince
    }

    /// Arrays the database returns as null when empty decode as empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        worker = try c.decode(Person.self, forKey: .worker)
        agency = try c.decodeIfPresent(String.self, forKey: .agency)
        agencyStanding = try c.decodeIfPresent(AgencyStanding.self, forKey: .agencyStanding)
        grade = try c.decodeIfPresent(Grade.self, forKey: .grade)
        skills = try c.decodeIfPresent([Skill].self, forKey: .skills) ?? []
        trainings = try c.decodeIfPresent([Training].self, forKey: .trainings) ?? []
        health = try c.decodeIfPresent(Health.self, forKey: .health)
        tenures = try c.decodeIfPresent([Tenure].self, forKey: .tenures) ?? []
        engagementCount = try c.decodeIfPresent(Int.self, forKey: .engagementCount) ?? 0
        engagementDays = try c.decodeIfPresent(Int.self, forKey: .engagementDays) ?? 0
        engagements = try c.decodeIfPresent([Engagement].self, forKey: .engagements) ?? []
        reviewCount = try c.decodeIfPresent(Int.self, forKey: .reviewCount) ?? 0
        skillAverages = try c.decodeIfPresent([String: Double].self, forKey: .skillAverages) ?? [:]
        ethicsAverages = try c.decodeIfPresent([String: Double].self, forKey: .ethicsAverages) ?? [:]
        reviews = try c.decodeIfPresent([Review].self, forKey: .reviews) ?? []
        flags = try c.decodeIfPresent([Flag].self, forKey: .flags) ?? []
        bannedSince = try c.decodeIfPresent(Instant.self, forKey: .bannedSince)
        suspendedSince = try c.decodeIfPresent(Instant.self, forKey: .suspendedSince)
    }
}
