/// The grading rules (`Policies/grading.yaml`): how skills, ethics and flags become a composite
/// credit grade, and the plain-language texts of every reason code. Decodes from the YAML's
/// snake_case keys; `validate()` refuses nonsense with a path to the offending node.
public struct GradingPolicy: Sendable, Equatable, Codable {
    /// Recorded with every grade (`grades.policy_version`); change it whenever a rule changes.
    public var version: String
    public var composite: Composite
    /// Best first; a composite at or above `min` gets that band. The last band (D) starts at 0.
    public var bands: [Band]
    public var shrinkage: Shrinkage
    public var decay: Decay
    public var ethics: Ethics
    public var skill: Skill
    public var reasons: Reasons
    /// Example inputs with the grade the policy must give them (run by `validate()` and the tests).
    public var examples: [Example]
    /// The service categories in the sectors' order (`Policies/sectors.yaml`, set by
    /// `applying(sectors:)`); empty: the names of `skill.categories`, sorted.
    public var categoryOrder: [String] = []
    /// A category's sector's own composite weights, where its sector has them (`applying(sectors:)`).
    public var sectorComposite: [String: Composite] = [:]

    public init(
        version: String,
        composite: Composite,
        bands: [Band],
        shrinkage: Shrinkage,
        decay: Decay,
        ethics: Ethics,
        skill: Skill,
        reasons: Reasons,
        examples: [Example] = []
    ) {
        self.version = version
        self.composite = composite
        self.bands = bands
        self.shrinkage = shrinkage
        self.decay = decay
        self.ethics = ethics
        self.skill = skill
        self.reasons = reasons
        self.examples = examples
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(String.self, forKey: .version)
        composite = try c.decode(Composite.self, forKey: .composite)
        bands = try c.decode([Band].self, forKey: .bands)
        shrinkage = try c.decode(Shrinkage.self, forKey: .shrinkage)
        decay = try c.decode(Decay.self, forKey: .decay)
        ethics = try c.decode(Ethics.self, forKey: .ethics)
        skill = try c.decode(Skill.self, forKey: .skill)
        reasons = try c.decode(Reasons.self, forKey: .reasons)
        examples = try c.decodeIfPresent([Example].self, forKey: .examples) ?? []
    }

    /// The service categories the grader knows, in the sectors' order.
    public var orderedCategories: [String] { categoryOrder.isEmpty ? skill.categories.keys.sorted() : categoryOrder }

    /// The flag categories the grader knows (those with a penalty), sorted.
    public var flagCategories: [FlagCategory] { ethics.flags.penalties.keys.sorted().map { FlagCategory($0) } }

    /// This policy with the sectors' category order and composite weights.
    public func applying(sectors: SectorPolicy) -> GradingPolicy {
        var copy = self
        copy.categoryOrder = sectors.categoryIDs
        copy.sectorComposite = [:]
        for sector in sectors.sectors {
            guard let weights = sector.composite else { continue }
            for category in sector.categories { copy.sectorComposite[category.id] = weights }
        }
        return copy
    }

    /// The composite weights for a worker holding `categories`: of their sectors' weights, the
    /// ones that weigh ethics most (the strictest); this policy's own when no sector has any.
    public func compositeWeights(for categories: [ServiceCategory]) -> Composite {
        var chosen = composite
        var found = false
        for category in categories {
            guard let w = sectorComposite[category.rawValue] else { continue }
            if !found || w.ethicsWeight > chosen.ethicsWeight { chosen = w }
            found = true
        }
        return chosen
    }

    // MARK: Parts

    /// composite = ethics_weight × ethics score + skill_weight × skill score (each 0-100).
    public struct Composite: Sendable, Equatable, Codable {
        public var ethicsWeight: Double
        public var skillWeight: Double

        public init(ethicsWeight: Double, skillWeight: Double) {
            self.ethicsWeight = ethicsWeight
            self.skillWeight = skillWeight
        }

        enum CodingKeys: String, CodingKey {
            case ethicsWeight = "ethics_weight"
            case skillWeight = "skill_weight"
        }
    }

    public struct Band: Sendable, Equatable, Codable {
        public var grade: CreditGrade
        public var min: Double

        public init(grade: CreditGrade, min: Double) {
            self.grade = grade
            self.min = min
        }
    }

    /// Bayesian averaging: every mean of review scores and ratings starts from `prior_weight`
    /// review-equivalents at the prior mean, so one or two reviews move it only part of the way.
    public struct Shrinkage: Sendable, Equatable, Codable {
        public var priorWeight: Double

        public init(priorWeight: Double) { self.priorWeight = priorWeight }

        enum CodingKeys: String, CodingKey { case priorWeight = "prior_weight" }
    }

    /// A review or rating `half_life_days` old weighs half as much as one made today.
    public struct Decay: Sendable, Equatable, Codable {
        public var halfLifeDays: Double

        public init(halfLifeDays: Double) { self.halfLifeDays = halfLifeDays }

        enum CodingKeys: String, CodingKey { case halfLifeDays = "half_life_days" }
    }

    public struct Ethics: Sendable, Equatable, Codable {
        /// The prior mean (1-5) of ethics scores for a worker with no record yet.
        public var priorMean: Double
        /// Review ethics dimension → its weight within one review.
        public var reviewDimensions: [String: Double]
        public var agencyRatings: AgencyRatings
        public var flags: Flags

        public init(priorMean: Double, reviewDimensions: [String: Double], agencyRatings: AgencyRatings, flags: Flags) {
            self.priorMean = priorMean
            self.reviewDimensions = reviewDimensions
            self.agencyRatings = agencyRatings
            self.flags = flags
        }

        enum CodingKeys: String, CodingKey {
            case priorMean = "prior_mean"
            case reviewDimensions = "review_dimensions"
            case agencyRatings = "agency_ratings"
            case flags
        }
    }

    /// An agency's rating counts as this many reviews (before decay).
    public struct AgencyRatings: Sendable, Equatable, Codable {
        public var sealedWeight: Double
        public var openWeight: Double

        public init(sealedWeight: Double, openWeight: Double) {
            self.sealedWeight = sealedWeight
            self.openWeight = openWeight
        }

        enum CodingKeys: String, CodingKey {
            case sealedWeight = "sealed_weight"
            case openWeight = "open_weight"
        }
    }

    /// A counting flag subtracts penalty[category] × status_factor[status] ×
    /// severity_factors[severity - 1] points from the ethics score (0-100).
    public struct Flags: Sendable, Equatable, Codable {
        public var penalties: [String: Double]
        public var statusFactors: [String: Double]
        public var severityFactors: [Double]
        public var gradeCaps: [GradeCap]

        public init(penalties: [String: Double], statusFactors: [String: Double], severityFactors: [Double], gradeCaps: [GradeCap] = []) {
            self.penalties = penalties
            self.statusFactors = statusFactors
            self.severityFactors = severityFactors
            self.gradeCaps = gradeCaps
        }

        enum CodingKeys: String, CodingKey {
            case penalties
            case statusFactors = "status_factors"
            case severityFactors = "severity_factors"
            case gradeCaps = "grade_caps"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            penalties = try c.decode([String: Double].self, forKey: .penalties)
            statusFactors = try c.decode([String: Double].self, forKey: .statusFactors)
            severityFactors = try c.decode([Double].self, forKey: .severityFactors)
            gradeCaps = try c.decodeIfPresent([GradeCap].self, forKey: .gradeCaps) ?? []
        }
    }

    /// A counting flag of one of `categories`, with one of `statuses` and at least `min_severity`,
    /// holds the grade at `max_grade` or worse, whatever the composite.
    public struct GradeCap: Sendable, Equatable, Codable {
        public var categories: [String]
        public var statuses: [String]
        public var minSeverity: Int
        public var maxGrade: CreditGrade

        public init(categories: [String], statuses: [String], minSeverity: Int = 1, maxGrade: CreditGrade) {
            self.categories = categories
            self.statuses = statuses
            self.minSeverity = minSeverity
            self.maxGrade = maxGrade
        }

        enum CodingKeys: String, CodingKey {
            case categories, statuses
            case minSeverity = "min_severity"
            case maxGrade = "max_grade"
        }
    }

    public struct Skill: Sendable, Equatable, Codable {
        /// The prior mean (1-5) of review skill scores.
        public var priorMean: Double
        /// skill score = level_weight × level points + review_weight × review skill score
        ///               + training points − health penalty (clamped to 0-100).
        public var levelWeight: Double
        public var reviewWeight: Double
        /// Points (0-100) of the worker's best level: index 0 = no level, 1-5 = the levels.
        public var levelPoints: [Double]
        /// Review skill dimension → its weight within one review.
        public var reviewDimensions: [String: Double]
        public var levels: Levels
        /// Per service category: which review dimensions nudge its level, and certificates.
        public var categories: [String: CategoryRule]
        public var trainings: Trainings
        public var health: Health

        public init(
            priorMean: Double,
            levelWeight: Double,
            reviewWeight: Double,
            levelPoints: [Double],
            reviewDimensions: [String: Double],
            levels: Levels,
            categories: [String: CategoryRule],
            trainings: Trainings,
            health: Health
        ) {
            self.priorMean = priorMean
            self.levelWeight = levelWeight
            self.reviewWeight = reviewWeight
            self.levelPoints = levelPoints
            self.reviewDimensions = reviewDimensions
            self.levels = levels
            self.categories = categories
            self.trainings = trainings
            self.health = health
        }

        enum CodingKeys: String, CodingKey {
            case priorMean = "prior_mean"
            case levelWeight = "level_weight"
            case reviewWeight = "review_weight"
            case levelPoints = "level_points"
            case reviewDimensions = "review_dimensions"
            case levels, categories, trainings, health
        }
    }

    /// Which assessment sets a category's level.
    public enum LevelRule: String, Sendable, Equatable, Codable, CaseIterable {
        /// The most recent assessment (the highest of that day).
        case latest
        /// The highest assessment ever made.
        case highest
    }

    public struct Levels: Sendable, Equatable, Codable {
        public var rule: LevelRule
        /// An assessment older than this, not confirmed by a valid certificate in its category,
        /// loses `stale_drop` levels (never below 1).
        public var staleAfterDays: Int
        public var staleDrop: Int
        public var reviewNudge: ReviewNudge

        public init(rule: LevelRule, staleAfterDays: Int, staleDrop: Int, reviewNudge: ReviewNudge) {
            self.rule = rule
            self.staleAfterDays = staleAfterDays
            self.staleDrop = staleDrop
            self.reviewNudge = reviewNudge
        }

        enum CodingKeys: String, CodingKey {
            case rule
            case staleAfterDays = "stale_after_days"
            case staleDrop = "stale_drop"
            case reviewNudge = "review_nudge"
        }
    }

    /// Reviews' scores in a category's dimensions, shrunk toward the skill prior, raise its level
    /// by `max_steps` at `up_at` or more and lower it at `down_at` or less (levels stay 1-5).
    public struct ReviewNudge: Sendable, Equatable, Codable {
        public var upAt: Double
        public var downAt: Double
        public var maxSteps: Int

        public init(upAt: Double, downAt: Double, maxSteps: Int) {
            self.upAt = upAt
            self.downAt = downAt
            self.maxSteps = maxSteps
        }

        enum CodingKeys: String, CodingKey {
            case upAt = "up_at"
            case downAt = "down_at"
            case maxSteps = "max_steps"
        }
    }

    public struct CategoryRule: Sendable, Equatable, Codable {
        /// Review skill dimensions that speak to this service.
        public var reviewDimensions: [String]
        /// A valid certificate in this category gives at least this level (0: certificates do
        /// not raise it, they only confirm a stale assessment).
        public var certificateMinimumLevel: Int

        public init(reviewDimensions: [String], certificateMinimumLevel: Int) {
            self.reviewDimensions = reviewDimensions
            self.certificateMinimumLevel = certificateMinimumLevel
        }

        enum CodingKeys: String, CodingKey {
            case reviewDimensions = "review_dimensions"
            case certificateMinimumLevel = "certificate_minimum_level"
        }
    }

    /// Valid trainings add `points_each` skill points, at most `max_points`.
    public struct Trainings: Sendable, Equatable, Codable {
        public var pointsEach: Double
        public var maxPoints: Double

        public init(pointsEach: Double, maxPoints: Double) {
            self.pointsEach = pointsEach
            self.maxPoints = maxPoints
        }

        enum CodingKeys: String, CodingKey {
            case pointsEach = "points_each"
            case maxPoints = "max_points"
        }
    }

    /// Skill points taken off for the health certificate valid today: none, or one that says
    /// restricted or unfit.
    public struct Health: Sendable, Equatable, Codable {
        public var missing: Double
        public var restricted: Double
        public var unfit: Double

        public init(missing: Double, restricted: Double, unfit: Double) {
            self.missing = missing
            self.restricted = restricted
            self.unfit = unfit
        }
    }

    public struct Reasons: Sendable, Equatable, Codable {
        /// How many factors (the largest by absolute contribution) a grade lists.
        public var maxFactors: Int
        /// Below this weight of ethics evidence (decayed review-equivalents) the grade carries
        /// the `limited_history` notice.
        public var limitedHistoryBelow: Double
        /// Reason code → language ("zh-CN", "en") → text. Every code in `reasonCodes` needs
        /// both languages, including the per-dimension details `review_<dimension>_high|low`.
        public var texts: [String: [String: ReasonText]]

        public init(maxFactors: Int, limitedHistoryBelow: Double, texts: [String: [String: ReasonText]]) {
            self.maxFactors = maxFactors
            self.limitedHistoryBelow = limitedHistoryBelow
            self.texts = texts
        }

        enum CodingKeys: String, CodingKey {
            case maxFactors = "max_factors"
            case limitedHistoryBelow = "limited_history_below"
            case texts
        }
    }

    /// What a reason means, in words the worker understands, and what would improve it.
    public struct ReasonText: Sendable, Equatable, Codable {
        public var text: String
        public var improve: String

        public init(text: String, improve: String) {
            self.text = text
            self.improve = improve
        }
    }

    public struct Example: Sendable, Equatable, Codable {
        public var name: String
        public var input: GradingInput
        public var expect: Expectation

        public init(name: String, input: GradingInput, expect: Expectation) {
            self.name = name
            self.input = input
            self.expect = expect
        }
    }

    public struct Expectation: Sendable, Equatable, Codable {
        public var grade: CreditGrade
        /// [low, high]: the composite must lie within (inclusive).
        public var compositeBetween: [Double]?
        /// The first factor listed (largest by absolute contribution).
        public var topFactor: String?

        public init(grade: CreditGrade, compositeBetween: [Double]? = nil, topFactor: String? = nil) {
            self.grade = grade
            self.compositeBetween = compositeBetween
            self.topFactor = topFactor
        }

        enum CodingKeys: String, CodingKey {
            case grade
            case compositeBetween = "composite_between"
            case topFactor = "top_factor"
        }
    }
}
