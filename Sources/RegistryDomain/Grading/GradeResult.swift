/// A worker's grade as the grader computed it: what `grades` stores.
public struct GradeResult: Sendable, Equatable, Codable {
    public var grade: CreditGrade
    /// 0-100, two decimals.
    public var composite: Double
    /// 0-100, two decimals.
    public var ethicsScore: Double
    /// 0-100, two decimals.
    public var skillScore: Double
    /// Level 1-5 per service category the worker has a level in.
    public var skillLevels: [ServiceCategory: Int]
    /// Status reasons first (barred, a grade cap, a suspension, notices), then the largest
    /// factors by absolute contribution.
    public var reasons: [GradeReason]
    public var policyVersion: String
    /// The whole calculation, for administrators.
    public var computation: GradeComputation

    public init(
        grade: CreditGrade,
        composite: Double,
        ethicsScore: Double,
        skillScore: Double,
        skillLevels: [ServiceCategory: Int],
        reasons: [GradeReason],
        policyVersion: String,
        computation: GradeComputation
    ) {
        self.grade = grade
        self.composite = composite
        self.ethicsScore = ethicsScore
        self.skillScore = skillScore
        self.skillLevels = skillLevels
        self.reasons = reasons
        self.policyVersion = policyVersion
        self.computation = computation
    }

    /// The factor reasons, largest first.
    public var factors: [GradeReason] { reasons.filter { $0.kind == .factor } }
    /// The status reasons.
    public var statuses: [GradeReason] { reasons.filter { $0.kind == .status } }

    /// `skill_levels` as stored: `{"elder_care": 4}`.
    public var skillLevelsByName: [String: Int] {
        Dictionary(uniqueKeysWithValues: skillLevels.map { ($0.key.rawValue, $0.value) })
    }

    enum CodingKeys: String, CodingKey {
        case grade, composite, reasons, computation
        case ethicsScore = "ethics_score"
        case skillScore = "skill_score"
        case skillLevels = "skill_levels"
        case policyVersion = "policy_version"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        grade = try c.decode(CreditGrade.self, forKey: .grade)
        composite = try c.decode(Double.self, forKey: .composite)
        ethicsScore = try c.decode(Double.self, forKey: .ethicsScore)
        skillScore = try c.decode(Double.self, forKey: .skillScore)
        var levels: [ServiceCategory: Int] = [:]
        for (name, level) in try c.decode([String: Int].self, forKey: .skillLevels) {
            levels[ServiceCategory(name)] = level
        }
        skillLevels = levels
        reasons = try c.decode([GradeReason].self, forKey: .reasons)
        policyVersion = try c.decode(String.self, forKey: .policyVersion)
        computation = try c.decode(GradeComputation.self, forKey: .computation)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(grade, forKey: .grade)
        try c.encode(composite, forKey: .composite)
        try c.encode(ethicsScore, forKey: .ethicsScore)
        try c.encode(skillScore, forKey: .skillScore)
        try c.encode(skillLevelsByName, forKey: .skillLevels)
        try c.encode(reasons, forKey: .reasons)
        try c.encode(policyVersion, forKey: .policyVersion)
        try c.encode(computation, forKey: .computation)
    }
}

/// One reason behind a grade (what `grades.reasons` holds, as an array).
public struct GradeReason: Sendable, Equatable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable {
        /// A state of the file (barred, capped, suspended, few records): no contribution.
        case status
        /// A factor with its signed contribution to the composite.
        case factor
    }

    public var code: String
    public var kind: Kind
    /// Composite points this factor added (+) or took away (−) against a worker with no record
    /// (two decimals); nil for a status.
    public var contribution: Double?
    /// Facts for the text, e.g. `category`, `level`, `count`, `max_grade`.
    public var params: [String: String]

    public init(code: String, kind: Kind, contribution: Double? = nil, params: [String: String] = [:]) {
        self.code = code
        self.kind = kind
        self.contribution = contribution
        self.params = params
    }

    public static func status(_ code: String, _ params: [String: String] = [:]) -> GradeReason {
        GradeReason(code: code, kind: .status, params: params)
    }

    enum CodingKeys: String, CodingKey { case code, kind, contribution, params }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = try c.decode(String.self, forKey: .code)
        kind = try c.decode(Kind.self, forKey: .kind)
        contribution = try c.decodeIfPresent(Double.self, forKey: .contribution)
        params = try c.decodeIfPresent([String: String].self, forKey: .params) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(contribution, forKey: .contribution)
        if !params.isEmpty { try c.encode(params, forKey: .params) }
    }
}

/// The full calculation behind a grade, for administrators (`grades.computation`).
/// Contributions are measured against the baseline: the scores of a worker with no record.
public struct GradeComputation: Sendable, Equatable, Codable {
    public var policyVersion: String
    public var today: CivilDate
    public var baseline: Scores
    public var ethics: EthicsPart
    public var skill: SkillPart
    public var composite: CompositePart
    /// Every factor, full precision, largest absolute composite contribution first. The
    /// composite contributions add up to composite − baseline composite.
    public var contributions: [Contribution]

    public init(
        policyVersion: String,
        today: CivilDate,
        baseline: Scores,
        ethics: EthicsPart,
        skill: SkillPart,
        composite: CompositePart,
        contributions: [Contribution]
    ) {
        self.policyVersion = policyVersion
        self.today = today
        self.baseline = baseline
        self.ethics = ethics
        self.skill = skill
        self.composite = composite
        self.contributions = contributions
    }

    enum CodingKeys: String, CodingKey {
        case today, baseline, ethics, skill, composite, contributions
        case policyVersion = "policy_version"
    }

    /// The same computation without the per-review evidence lists (every total kept): a compact
    /// form to store for millions of workers. The full one is `Grader.grade` of the same inputs.
    public var withoutEvidence: GradeComputation {
        var copy = self
        copy.ethics.reviewsAndRatings.evidence = []
        copy.skill.reviews.evidence = []
        return copy
    }

    public struct Scores: Sendable, Equatable, Codable {
        public var ethics: Double
        public var skill: Double
        public var composite: Double

        public init(ethics: Double, skill: Double, composite: Double) {
            self.ethics = ethics
            self.skill = skill
            self.composite = composite
        }
    }

    /// A review or rating as it entered a weighted mean.
    public struct Evidence: Sendable, Equatable, Codable {
        /// "review" or "agency_rating".
        public var source: String
        public var date: CivilDate
        public var ageDays: Int
        /// The time-decay factor (1 today, ½ after one half-life).
        public var decay: Double
        /// decay × the source's weight: review-equivalents.
        public var weight: Double
        /// The item's score on 1-5 (a review: the weighted mean of its dimensions).
        public var value: Double

        public init(source: String, date: CivilDate, ageDays: Int, decay: Double, weight: Double, value: Double) {
            self.source = source
            self.date = date
            self.ageDays = ageDays
            self.decay = decay
            self.weight = weight
            self.value = value
        }

        enum CodingKeys: String, CodingKey {
            case source, date, decay, weight, value
            case ageDays = "age_days"
        }
    }

    /// A Bayesian (shrunk) mean on 1-5 and its 0-100 score.
    public struct ShrunkMean: Sendable, Equatable, Codable {
        public var priorMean: Double
        public var priorWeight: Double
        /// Σ weights of the evidence (review-equivalents).
        public var evidenceWeight: Double
        /// (prior_mean × prior_weight + Σ weight × value) / (prior_weight + Σ weight).
        public var mean: Double
        /// (mean − 1) × 25.
        public var score: Double
        /// Points each review dimension (and `agency_rating`) moved `score` from the prior's;
        /// they add up to score − (prior_mean − 1) × 25.
        public var shares: [String: Double]
        public var evidence: [Evidence]

        public init(
            priorMean: Double,
            priorWeight: Double,
            evidenceWeight: Double,
            mean: Double,
            score: Double,
            shares: [String: Double],
            evidence: [Evidence]
        ) {
            self.priorMean = priorMean
            self.priorWeight = priorWeight
            self.evidenceWeight = evidenceWeight
            self.mean = mean
            self.score = score
            self.shares = shares
            self.evidence = evidence
        }

        enum CodingKeys: String, CodingKey {
            case mean, score, shares, evidence
            case priorMean = "prior_mean"
            case priorWeight = "prior_weight"
            case evidenceWeight = "evidence_weight"
        }
    }

    public struct FlagItem: Sendable, Equatable, Codable {
        public var category: FlagCategory
        public var status: FlagStatus
        public var severity: Int
        public var occurredOn: CivilDate
        public var expiresOn: CivilDate?
        /// nil when it counts, else "retracted" or "expired".
        public var ignored: String?
        /// penalty × status factor × severity factor (0 when ignored).
        public var points: Double

        public init(
            category: FlagCategory,
            status: FlagStatus,
            severity: Int,
            occurredOn: CivilDate,
            expiresOn: CivilDate?,
            ignored: String?,
            points: Double
        ) {
            self.category = category
            self.status = status
            self.severity = severity
            self.occurredOn = occurredOn
            self.expiresOn = expiresOn
            self.ignored = ignored
            self.points = points
        }

        enum CodingKeys: String, CodingKey {
            case category, status, severity, ignored, points
            case occurredOn = "occurred_on"
            case expiresOn = "expires_on"
        }
    }

    public struct EthicsPart: Sendable, Equatable, Codable {
        public var reviewsAndRatings: ShrunkMean
        public var flags: [FlagItem]
        public var flagPenalty: Double
        /// reviews_and_ratings.score − flag_penalty, before clamping to 0-100.
        public var raw: Double
        public var score: Double

        public init(reviewsAndRatings: ShrunkMean, flags: [FlagItem], flagPenalty: Double, raw: Double, score: Double) {
            self.reviewsAndRatings = reviewsAndRatings
            self.flags = flags
            self.flagPenalty = flagPenalty
            self.raw = raw
            self.score = score
        }

        enum CodingKeys: String, CodingKey {
            case flags, raw, score
            case reviewsAndRatings = "reviews_and_ratings"
            case flagPenalty = "flag_penalty"
        }
    }

    /// How one service category's level came about.
    public struct LevelStep: Sendable, Equatable, Codable {
        public var category: ServiceCategory
        public var assessedLevel: Int?
        public var assessedOn: CivilDate?
        public var certified: Bool
        /// Levels lost because the assessment is stale and no certificate confirms it.
        public var staleDrop: Int
        /// Levels gained from a valid certificate's minimum.
        public var certificateRaise: Int
        /// The shrunk mean of the reviews' scores in this category's dimensions, if any.
        public var reviewMean: Double?
        public var reviewWeight: Double
        public var nudge: Int
        public var level: Int?

        public init(
            category: ServiceCategory,
            assessedLevel: Int?,
            assessedOn: CivilDate?,
            certified: Bool,
            staleDrop: Int,
            certificateRaise: Int,
            reviewMean: Double?,
            reviewWeight: Double,
            nudge: Int,
            level: Int?
        ) {
            self.category = category
            self.assessedLevel = assessedLevel
            self.assessedOn = assessedOn
            self.certified = certified
            self.staleDrop = staleDrop
            self.certificateRaise = certificateRaise
            self.reviewMean = reviewMean
            self.reviewWeight = reviewWeight
            self.nudge = nudge
            self.level = level
        }

        enum CodingKeys: String, CodingKey {
            case category, certified, nudge, level
            case assessedLevel = "assessed_level"
            case assessedOn = "assessed_on"
            case staleDrop = "stale_drop"
            case certificateRaise = "certificate_raise"
            case reviewMean = "review_mean"
            case reviewWeight = "review_weight"
        }
    }

    public struct SkillPart: Sendable, Equatable, Codable {
        public var levels: [LevelStep]
        public var bestLevel: Int?
        public var bestCategory: ServiceCategory?
        public var levelPoints: Double
        public var reviews: ShrunkMean
        public var trainingsCounted: Int
        public var trainingPoints: Double
        /// "fit", "restricted", "unfit" or "missing" (no certificate valid today).
        public var health: String
        public var healthPenalty: Double
        /// level_weight × level_points + review_weight × reviews.score + training_points − health_penalty.
        public var raw: Double
        public var score: Double

        public init(
            levels: [LevelStep],
            bestLevel: Int?,
            bestCategory: ServiceCategory?,
            levelPoints: Double,
            reviews: ShrunkMean,
            trainingsCounted: Int,
            trainingPoints: Double,
            health: String,
            healthPenalty: Double,
            raw: Double,
            score: Double
        ) {
            self.levels = levels
            self.bestLevel = bestLevel
            self.bestCategory = bestCategory
            self.levelPoints = levelPoints
            self.reviews = reviews
            self.trainingsCounted = trainingsCounted
            self.trainingPoints = trainingPoints
            self.health = health
            self.healthPenalty = healthPenalty
            self.raw = raw
            self.score = score
        }

        enum CodingKeys: String, CodingKey {
            case levels, reviews, health, raw, score
            case bestLevel = "best_level"
            case bestCategory = "best_category"
            case levelPoints = "level_points"
            case trainingsCounted = "trainings_counted"
            case trainingPoints = "training_points"
            case healthPenalty = "health_penalty"
        }
    }

    public struct CompositePart: Sendable, Equatable, Codable {
        public var ethicsWeight: Double
        public var skillWeight: Double
        /// ethics_weight × ethics score + skill_weight × skill score, unrounded.
        public var value: Double
        public var rounded: Double
        /// The band the rounded composite falls in.
        public var band: CreditGrade
        /// The strictest grade cap from a counting flag, if any.
        public var cappedAt: CreditGrade?
        public var cappedBy: FlagCategory?
        public var barred: Bool
        public var suspended: Bool
        public var grade: CreditGrade

        public init(
            ethicsWeight: Double,
            skillWeight: Double,
            value: Double,
            rounded: Double,
            band: CreditGrade,
            cappedAt: CreditGrade?,
            cappedBy: FlagCategory?,
            barred: Bool,
            suspended: Bool,
            grade: CreditGrade
        ) {
            self.ethicsWeight = ethicsWeight
            self.skillWeight = skillWeight
            self.value = value
            self.rounded = rounded
            self.band = band
            self.cappedAt = cappedAt
            self.cappedBy = cappedBy
            self.barred = barred
            self.suspended = suspended
            self.grade = grade
        }

        enum CodingKeys: String, CodingKey {
            case value, rounded, band, barred, suspended, grade
            case ethicsWeight = "ethics_weight"
            case skillWeight = "skill_weight"
            case cappedAt = "capped_at"
            case cappedBy = "capped_by"
        }
    }

    /// One factor: its effect on the ethics or skill score, and on the composite.
    public struct Contribution: Sendable, Equatable, Codable {
        public var code: String
        /// "ethics" or "skill".
        public var part: String
        /// Points on that part's 0-100 score.
        public var points: Double
        /// Points on the composite (points × the part's weight).
        public var composite: Double
        /// For review factors: composite points per review dimension.
        public var dimensions: [String: Double]?

        public init(code: String, part: String, points: Double, composite: Double, dimensions: [String: Double]? = nil) {
            self.code = code
            self.part = part
            self.points = points
            self.composite = composite
            self.dimensions = dimensions
        }
    }
}
