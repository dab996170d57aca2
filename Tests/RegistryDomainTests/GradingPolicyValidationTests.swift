import Testing

@testable import RegistryDomain

private typealias F = GradingFixtures

/// Applies `change` to a valid policy and expects validation to fail at `path` with a message
/// containing `message`.
private func expectRejected(
    _ path: [String],
    _ message: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ change: (inout GradingPolicy) -> Void
) {
    var policy = F.policy()
    change(&policy)
    let error = #expect(throws: PolicyError.self, sourceLocation: sourceLocation) { try policy.validate() }
    #expect(error?.path == path, "\(String(describing: error))", sourceLocation: sourceLocation)
    #expect(error?.message.contains(message) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
}

@Suite("Grading policy validation")
struct GradingPolicyValidationTests {
    @Test("the test policy is valid, and so is a policy without examples or caps")
    func valid() throws {
        try F.policy().validate()
        try F.policy(gradeCaps: []).validate()
        _ = try Grader(policy: F.policy())
    }

    @Test("weights: ethics weighs more than skill and they add up to 1")
    func weights() {
        expectRejected(["composite", "ethics_weight"], "ethics must weigh more than skill") {
            $0.composite = .init(ethicsWeight: 0.35, skillWeight: 0.65)
        }
        expectRejected(["composite", "ethics_weight"], "ethics must weigh more than skill") {
            $0.composite = .init(ethicsWeight: 0.5, skillWeight: 0.5)
        }
        expectRejected(["composite"], "add up to 1") { $0.composite = .init(ethicsWeight: 0.6, skillWeight: 0.3) }
        expectRejected(["composite", "skill_weight"], "must be 0 to 1") { $0.composite = .init(ethicsWeight: 1.0, skillWeight: -0.5) }
        expectRejected(["composite", "ethics_weight"], "must be a number") { $0.composite = .init(ethicsWeight: .nan, skillWeight: 0.35) }
        expectRejected(["skill"], "level_weight and review_weight must add up to 1") { $0.skill.reviewWeight = 0.3 }
    }

    @Test("bands: A, B, C, D in order, thresholds descending, D from 0")
    func bands() {
        expectRejected(["bands", "1", "min"], "thresholds must descend") { $0.bands[1].min = 90 }
        expectRejected(["bands", "2", "min"], "thresholds must descend") { $0.bands[2].min = 70 }
        expectRejected(["bands", "0", "grade"], "band 1 must be A") { $0.bands.swapAt(0, 1) }
        expectRejected(["bands"], "exactly the four bands") { $0.bands.removeLast() }
        expectRejected(["bands", "3", "grade"], "band 4 must be D") { $0.bands[3].grade = .revoked }
        expectRejected(["bands", "3", "min"], "must start at 0") { $0.bands[3].min = 10 }
        expectRejected(["bands", "0", "min"], "must be 0 to 100") { $0.bands[0].min = 120 }
    }

    @Test("shrinkage and decay: a real prior and a positive half-life")
    func shrinkageAndDecay() {
        expectRejected(["decay", "half_life_days"], "more than 0 days") { $0.decay.halfLifeDays = 0 }
        expectRejected(["decay", "half_life_days"], "more than 0 days") { $0.decay.halfLifeDays = -30 }
        expectRejected(["decay", "half_life_days"], "must be a number") { $0.decay.halfLifeDays = .infinity }
        expectRejected(["shrinkage", "prior_weight"], "must be 1 to 1000") { $0.shrinkage.priorWeight = 0 }
        expectRejected(["ethics", "prior_mean"], "must be 1 to 5") { $0.ethics.priorMean = 6 }
        expectRejected(["skill", "prior_mean"], "must be 1 to 5") { $0.skill.priorMean = 0.5 }
    }

    @Test("flags: known categories and statuses, retracted counts nothing, allegations weigh least")
    func flags() {
        // The categories are the penalties' names (flags.yaml must declare the same: PolicyTests).
        expectRejected(["ethics", "flags", "penalties", "Jay Walking"], "lowercase letters") {
            $0.ethics.flags.penalties["Jay Walking"] = 3
        }
        expectRejected(["ethics", "flags", "grade_caps", "0", "categories", "0"], "unknown flag category 'child_or_elder_abuse'") {
            $0.ethics.flags.penalties["child_or_elder_abuse"] = nil
            $0.reasons.texts = F.texts(for: $0.reasonCodes)
        }
        expectRejected(["ethics", "flags", "penalties", "theft"], "must be 0 to 100") { $0.ethics.flags.penalties["theft"] = -5 }
        expectRejected(["ethics", "flags", "status_factors", "suspected"], "unknown flag status 'suspected'") {
            $0.ethics.flags.statusFactors["suspected"] = 0.1
        }
        expectRejected(["ethics", "flags", "status_factors", "retracted"], "retracted flags always count nothing") {
            $0.ethics.flags.statusFactors["retracted"] = 0
        }
        expectRejected(["ethics", "flags", "status_factors"], "no factor for flag status 'charged'") {
            $0.ethics.flags.statusFactors["charged"] = nil
        }
        expectRejected(["ethics", "flags", "status_factors"], "an allegation may not weigh more") { $0.ethics.flags.statusFactors["alleged"] = 0.9 }
        expectRejected(["ethics", "flags", "status_factors"], "nor a charge more than a conviction") {
            $0.ethics.flags.statusFactors["charged"] = 1
            $0.ethics.flags.statusFactors["convicted"] = 0.8
        }
        expectRejected(["ethics", "flags", "status_factors", "adjudicated"], "must be 0 to 1") { $0.ethics.flags.statusFactors["adjudicated"] = 2 }
        expectRejected(["ethics", "flags", "status_factors", "convicted"], "a conviction must count") {
            for key in ["alleged", "charged", "convicted"] { $0.ethics.flags.statusFactors[key] = 0 }
        }
        expectRejected(["ethics", "flags", "severity_factors"], "one factor for each severity 1 to 5") {
            $0.ethics.flags.severityFactors.removeLast()
        }
        expectRejected(["ethics", "flags", "severity_factors", "2"], "must not descend") { $0.ethics.flags.severityFactors[2] = 0.5 }
    }

    @Test("grade caps: known categories and statuses, a real grade, not REVOKED")
    func gradeCaps() {
        expectRejected(["ethics", "flags", "grade_caps", "0", "categories", "1"], "unknown flag category 'assault'") {
            $0.ethics.flags.gradeCaps[0].categories = ["theft", "assault"]
        }
        expectRejected(["ethics", "flags", "grade_caps", "1", "statuses", "0"], "cannot cap") {
            $0.ethics.flags.gradeCaps[1].statuses = ["retracted"]
        }
        expectRejected(["ethics", "flags", "grade_caps", "1", "statuses", "1"], "unknown flag status 'rumoured'") {
            $0.ethics.flags.gradeCaps[1].statuses = ["convicted", "rumoured"]
        }
        expectRejected(["ethics", "flags", "grade_caps", "0", "max_grade"], "a flag cannot revoke") {
            $0.ethics.flags.gradeCaps[0].maxGrade = .revoked
        }
        expectRejected(["ethics", "flags", "grade_caps", "0", "min_severity"], "must be 1 to 5") { $0.ethics.flags.gradeCaps[0].minSeverity = 0 }
        expectRejected(["ethics", "flags", "grade_caps", "0", "categories"], "at least one") { $0.ethics.flags.gradeCaps[0].categories = [] }
    }

    @Test("review dimensions: names, weights, no dimension on both sides")
    func dimensions() {
        expectRejected(["ethics", "review_dimensions", "Honesty"], "lower-case name") { $0.ethics.reviewDimensions["Honesty"] = 1 }
        expectRejected(["ethics", "review_dimensions", "agency_rating"], "lower-case name") { $0.ethics.reviewDimensions["agency_rating"] = 1 }
        expectRejected(["ethics", "review_dimensions"], "at least one dimension must weigh more than 0") {
            for key in $0.ethics.reviewDimensions.keys { $0.ethics.reviewDimensions[key] = 0 }
        }
        expectRejected(["ethics", "review_dimensions"], "needs at least one dimension") { $0.ethics.reviewDimensions = [:] }
        expectRejected(["skill", "review_dimensions", "honesty"], "also an ethics dimension") {
            $0.skill.reviewDimensions["honesty"] = 1
            $0.reasons.texts = F.texts(for: $0.reasonCodes)
        }
    }

    @Test("skill levels: six level points ascending, every service category, known dimensions")
    func skill() {
        expectRejected(["skill", "level_points"], "six values") { $0.skill.levelPoints.removeLast() }
        expectRejected(["skill", "level_points", "3"], "a higher level may not give fewer points") { $0.skill.levelPoints[3] = 50 }
        // With the sectors applied, the categories are exactly theirs.
        expectRejected(["skill", "categories", "gardening"], "'gardening' is not a category of any sector") {
            $0 = $0.applying(sectors: .domesticOnly)
            $0.skill.categories["gardening"] = .init(reviewDimensions: [], certificateMinimumLevel: 1)
        }
        expectRejected(["skill", "categories"], "no rule for service category 'cooking'") {
            $0 = $0.applying(sectors: .domesticOnly)
            $0.skill.categories["cooking"] = nil
        }
        expectRejected(["skill", "categories", "nanny", "review_dimensions", "1"], "'babysitting' is not one of skill.review_dimensions") {
            $0.skill.categories["nanny"]!.reviewDimensions = ["childcare", "babysitting"]
        }
        expectRejected(["skill", "categories", "nanny", "certificate_minimum_level"], "0 (no raise) to 5") {
            $0.skill.categories["nanny"]!.certificateMinimumLevel = 6
        }
        expectRejected(["skill", "levels", "review_nudge", "down_at"], "must be below up_at") { $0.skill.levels.reviewNudge.downAt = 4.5 }
        expectRejected(["skill", "levels", "review_nudge", "max_steps"], "0 to 2 steps") { $0.skill.levels.reviewNudge.maxSteps = 3 }
        expectRejected(["skill", "levels", "stale_after_days"], "1 to 36500") { $0.skill.levels.staleAfterDays = 0 }
        expectRejected(["skill", "levels", "stale_drop"], "0 to 4") { $0.skill.levels.staleDrop = 5 }
        expectRejected(["skill", "health", "unfit"], "0 to 100") { $0.skill.health.unfit = 101 }
        expectRejected(["skill", "trainings", "max_points"], "0 to 100") { $0.skill.trainings.maxPoints = -1 }
    }

    @Test("reason codes: every code the grader can give has text and advice in zh-CN and en, and no others")
    func reasonTexts() {
        expectRejected(["reasons", "texts"], "reason code 'barred' has no texts") { $0.reasons.texts["barred"] = nil }
        expectRejected(["reasons", "texts"], "reason code 'review_honesty_low' has no texts") { $0.reasons.texts["review_honesty_low"] = nil }
        expectRejected(["reasons", "texts", "flag_theft"], "has no en text") { $0.reasons.texts["flag_theft"]!["en"] = nil }
        expectRejected(["reasons", "texts", "flag_theft"], "has no zh-CN text") { $0.reasons.texts["flag_theft"]!["zh-CN"] = nil }
        expectRejected(["reasons", "texts", "trainings", "zh-CN", "improve"], "must not be empty") {
            $0.reasons.texts["trainings"]!["zh-CN"]!.improve = "  "
        }
        expectRejected(["reasons", "texts", "trainings", "en", "text"], "must not be empty") { $0.reasons.texts["trainings"]!["en"]!.text = "" }
        expectRejected(["reasons", "texts", "made_up"], "not a reason code the grader gives") {
            $0.reasons.texts["made_up"] = ["zh-CN": .init(text: "x", improve: "y"), "en": .init(text: "x", improve: "y")]
        }
        expectRejected(["reasons", "max_factors"], "1 to 10") { $0.reasons.maxFactors = 0 }
        // A new dimension brings new codes that need texts.
        expectRejected(["reasons", "texts"], "reason code 'review_tidiness_high' has no texts") { $0.skill.reviewDimensions["tidiness"] = 1 }
    }

    @Test("the version is a short label")
    func version() {
        expectRejected(["version"], "1 to 32") { $0.version = "" }
        expectRejected(["version"], "1 to 32") { $0.version = "2026 spring" }
    }

    @Test("examples are run: one that does not come out as expected is named")
    func examples() throws {
        let input = F.newWorker()
        let actual = F.grader().grade(input)
        var policy = F.policy()
        policy.examples = [.init(name: "new worker", input: input, expect: .init(grade: actual.grade, compositeBetween: [60, 75]))]
        try policy.validate()

        expectRejected(["examples", "1", "expect"], "example 'wrong': expected grade A, got C") {
            $0.examples = [
                .init(name: "fine", input: input, expect: .init(grade: .c)),
                .init(name: "wrong", input: input, expect: .init(grade: .a)),
            ]
        }
        expectRejected(["examples", "0", "expect"], "expected a composite within 80-90") {
            $0.examples = [.init(name: "range", input: input, expect: .init(grade: .c, compositeBetween: [80, 90]))]
        }
        expectRejected(["examples", "0", "expect", "composite_between"], "[low, high]") {
            $0.examples = [.init(name: "range", input: input, expect: .init(grade: .c, compositeBetween: [90, 80]))]
        }
        expectRejected(["examples", "0", "expect", "top_factor"], "not a factor code") {
            $0.examples = [.init(name: "top", input: input, expect: .init(grade: .c, topFactor: "barred"))]
        }
        var flagged = F.goodWorker()
        flagged.flags = [F.flag(.theft, severity: 3)]
        expectRejected(["examples", "0", "expect"], "expected top factor skill_level, got flag_theft") {
            $0.examples = [.init(name: "top", input: flagged, expect: .init(grade: .d, topFactor: "skill_level"))]
        }
        expectRejected(["examples", "0", "name"], "must not be empty") {
            $0.examples = [.init(name: " ", input: input, expect: .init(grade: .c))]
        }
    }

    @Test("review dimensions can be checked against those reviews are scored in")
    func dimensionsMatchReviews() throws {
        let policy = F.policy()
        try policy.checkDimensions(skill: F.skillDimensions, ethics: F.ethicsDimensions)
        let missing = #expect(throws: PolicyError.self) {
            try policy.checkDimensions(skill: F.skillDimensions + ["ironing"], ethics: F.ethicsDimensions)
        }
        #expect(missing?.path == ["skill", "review_dimensions"])
        let extra = #expect(throws: PolicyError.self) {
            try policy.checkDimensions(skill: F.skillDimensions, ethics: ["honesty", "respect", "reliability"])
        }
        #expect(extra?.path == ["ethics", "review_dimensions", "care"])
    }
}
