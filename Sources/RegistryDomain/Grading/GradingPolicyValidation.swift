/// The reason codes the grader gives. Factor codes carry a signed contribution; status codes
/// (REVOKED, a grade cap, a suspension, notices) come first and carry none.
public enum GradeReasonCode {
    // Status reasons, in the order they are listed.
    public static let barred = "barred"
    public static let flagGradeCap = "flag_grade_cap"
    public static let interimSuspension = "interim_suspension"
    public static let limitedHistory = "limited_history"
    public static let skillNotAssessed = "skill_not_assessed"
    public static let statuses = [barred, flagGradeCap, interimSuspension, limitedHistory, skillNotAssessed]

    // Factors.
    public static let reviewsEthicsHigh = "reviews_ethics_high"
    public static let reviewsEthicsLow = "reviews_ethics_low"
    public static let reviewsSkillHigh = "reviews_skill_high"
    public static let reviewsSkillLow = "reviews_skill_low"
    public static let agencyEthicsHigh = "agency_ethics_high"
    public static let agencyEthicsLow = "agency_ethics_low"
    public static let skillLevel = "skill_level"
    public static let trainings = "trainings"
    public static let healthMissing = "health_certificate_missing"
    public static let healthRestricted = "health_restricted"
    public static let healthUnfit = "health_unfit"

    /// `review_<dimension>_high` or `_low`: not a reason on its own but the detail of a
    /// `reviews_*` reason whose `dimension` param names the dimension that moved it most.
    public static func review(_ dimension: String, positive: Bool) -> String {
        "review_\(dimension)_\(positive ? "high" : "low")"
    }

    /// `flag_<category>`: counting police or credit-bureau records of one category.
    public static func flag(_ category: FlagCategory) -> String { flagPrefix + category.rawValue }
    public static let flagPrefix = "flag_"
}

extension GradingPolicy {
    /// The languages every reason code needs texts in.
    public static let languages = ["zh-CN", "en"]

    /// Every reason code the grader can give under this policy, with the per-dimension detail
    /// codes (`review_<dimension>_high|low`), sorted: each needs texts in both languages.
    public var reasonCodes: [String] {
        var codes = Set(GradeReasonCode.statuses)
        codes.formUnion([
            GradeReasonCode.reviewsEthicsHigh, GradeReasonCode.reviewsEthicsLow, GradeReasonCode.reviewsSkillHigh,
            GradeReasonCode.reviewsSkillLow, GradeReasonCode.agencyEthicsHigh, GradeReasonCode.agencyEthicsLow, GradeReasonCode.skillLevel,
            GradeReasonCode.trainings, GradeReasonCode.healthMissing, GradeReasonCode.healthRestricted,
            GradeReasonCode.healthUnfit,
        ])
        for dimension in Array(ethics.reviewDimensions.keys) + Array(skill.reviewDimensions.keys) {
            codes.insert(GradeReasonCode.review(dimension, positive: true))
            codes.insert(GradeReasonCode.review(dimension, positive: false))
        }
        for category in flagCategories { codes.insert(GradeReasonCode.flag(category)) }
        return codes.sorted()
    }

    /// Checks every rule and then runs every example. The error's path leads to the offending node.
    public func validate() throws(PolicyError) {
        try validateRules()
        try checkExamples()
    }

    /// Checks that review dimensions match those reviews are scored in (`Policies/reports.yaml`).
    public func checkDimensions(skill skillNames: [String], ethics ethicsNames: [String]) throws(PolicyError) {
        for (key, mine, theirs) in [("ethics", ethics.reviewDimensions, ethicsNames), ("skill", skill.reviewDimensions, skillNames)] {
            for name in theirs.sorted() where mine[name] == nil {
                throw PolicyError(path: [key, "review_dimensions"], message: "reviews score '\(name)' but the grading policy gives it no weight")
            }
            for name in mine.keys.sorted() where !theirs.contains(name) {
                throw PolicyError(
                    path: [key, "review_dimensions", name],
                    message: "reviews have no '\(name)' dimension (they score \(theirs.joined(separator: ", ")))"
                )
            }
        }
    }

    /// Runs the policy's examples; the first one that does not come out as expected is an error.
    public func checkExamples() throws(PolicyError) {
        let grader = try Grader(policy: self)
        for (i, example) in examples.enumerated() {
            let path = ["examples", String(i)]
            let result = grader.grade(example.input)
            if let message = example.mismatch(result) {
                throw PolicyError(path: path + ["expect"], message: "example '\(example.name)': \(message)")
            }
        }
    }

    /// Every rule on its own, without the examples.
    public func validateRules() throws(PolicyError) {
        func fail(_ path: [String], _ message: String) -> PolicyError { PolicyError(path: path, message: message) }
        func finite(_ value: Double, _ path: [String]) throws(PolicyError) {
            guard value.isFinite else { throw fail(path, "must be a number") }
        }
        func within(_ value: Double, _ range: ClosedRange<Double>, _ path: [String]) throws(PolicyError) {
            try finite(value, path)
            guard range.contains(value) else { throw fail(path, "must be \(Self.show(range.lowerBound)) to \(Self.show(range.upperBound))") }
        }
        // What the database's CHECK on category columns allows.
        func isStoredName(_ s: String) -> Bool { (2...40).contains(s.count) && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0 == "_") } }
        func isName(_ s: String) -> Bool {
            (2...40).contains(s.count) && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") } && s.first!.isLetter
        }

        // Version.
        let v = version
        guard (1...32).contains(v.count), v.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) }) else {
            throw fail(["version"], "must be 1 to 32 letters, digits, '.', '-' or '_' (e.g. \"2026.1\")")
        }

        // Composite weights: ethics weighs more than skill, together 1.
        try within(composite.ethicsWeight, 0...1, ["composite", "ethics_weight"])
        try within(composite.skillWeight, 0...1, ["composite", "skill_weight"])
        guard abs(composite.ethicsWeight + composite.skillWeight - 1) < 1e-9 else {
            throw fail(
                ["composite"],
                "ethics_weight and skill_weight must add up to 1 (they add up to \(Self.show(composite.ethicsWeight + composite.skillWeight)))"
            )
        }
        guard composite.ethicsWeight > composite.skillWeight else {
            throw fail(["composite", "ethics_weight"], "ethics must weigh more than skill")
        }

        // Bands A, B, C, D in that order, thresholds strictly descending, D from 0.
        guard bands.count == 4 else { throw fail(["bands"], "needs exactly the four bands A, B, C, D") }
        for (i, band) in bands.enumerated() {
            let path = ["bands", String(i)]
            guard band.grade == CreditGrade.bands[i] else {
                throw fail(path + ["grade"], "band \(i + 1) must be \(CreditGrade.bands[i].rawValue) (bands are A, B, C, D, best first)")
            }
            try within(band.min, 0...100, path + ["min"])
            if i > 0, band.min >= bands[i - 1].min {
                throw fail(
                    path + ["min"],
                    "thresholds must descend: \(band.grade.rawValue) starts at \(Self.show(band.min)), not below \(bands[i - 1].grade.rawValue) at \(Self.show(bands[i - 1].min))"
                )
            }
        }
        guard bands[3].min == 0 else { throw fail(["bands", "3", "min"], "the last band (D) must start at 0") }

        // Shrinkage and decay.
        try within(shrinkage.priorWeight, 1...1000, ["shrinkage", "prior_weight"])
        try finite(decay.halfLifeDays, ["decay", "half_life_days"])
        guard decay.halfLifeDays > 0 else { throw fail(["decay", "half_life_days"], "must be more than 0 days") }
        guard decay.halfLifeDays <= 36_500 else { throw fail(["decay", "half_life_days"], "must be at most 36500 days") }

        // Ethics.
        try within(ethics.priorMean, 1...5, ["ethics", "prior_mean"])
        try dimensionWeights(ethics.reviewDimensions, ["ethics", "review_dimensions"])
        try within(ethics.agencyRatings.sealedWeight, 0...100, ["ethics", "agency_ratings", "sealed_weight"])
        try within(ethics.agencyRatings.openWeight, 0...100, ["ethics", "agency_ratings", "open_weight"])
        let flagsPath = ["ethics", "flags"]
        for name in ethics.flags.penalties.keys.sorted() {
            guard isStoredName(name) else { throw fail(flagsPath + ["penalties", name], "'\(name)' must be 2-40 lowercase letters or '_'") }
            try within(ethics.flags.penalties[name]!, 0...100, flagsPath + ["penalties", name])
        }
        guard !ethics.flags.penalties.isEmpty else { throw fail(flagsPath + ["penalties"], "name at least one flag category") }
        let categoryNames = ethics.flags.penalties.keys.sorted()
        let counting = FlagStatus.allCases.filter { $0 != .retracted }
        for name in ethics.flags.statusFactors.keys.sorted() {
            if name == FlagStatus.retracted.rawValue {
                throw fail(flagsPath + ["status_factors", name], "retracted flags always count nothing; remove this entry")
            }
            guard FlagStatus(rawValue: name) != nil else {
                throw fail(
                    flagsPath + ["status_factors", name],
                    "unknown flag status '\(name)' (known: \(counting.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            try within(ethics.flags.statusFactors[name]!, 0...1, flagsPath + ["status_factors", name])
        }
        for status in counting where ethics.flags.statusFactors[status.rawValue] == nil {
            throw fail(flagsPath + ["status_factors"], "no factor for flag status '\(status.rawValue)'")
        }
        let f = ethics.flags.statusFactors
        guard f["alleged"]! <= f["charged"]!, f["charged"]! <= f["convicted"]! else {
            throw fail(flagsPath + ["status_factors"], "an allegation may not weigh more than a charge, nor a charge more than a conviction")
        }
        guard f["convicted"]! > 0 else { throw fail(flagsPath + ["status_factors", "convicted"], "a conviction must count") }
        guard ethics.flags.severityFactors.count == 5 else {
            throw fail(flagsPath + ["severity_factors"], "needs one factor for each severity 1 to 5")
        }
        for (i, factor) in ethics.flags.severityFactors.enumerated() {
            try within(factor, 0...10, flagsPath + ["severity_factors", String(i)])
            if i > 0, factor < ethics.flags.severityFactors[i - 1] {
                throw fail(flagsPath + ["severity_factors", String(i)], "a more severe flag may not weigh less (factors must not descend)")
            }
        }
        for (i, cap) in ethics.flags.gradeCaps.enumerated() {
            let path = flagsPath + ["grade_caps", String(i)]
            guard !cap.categories.isEmpty else { throw fail(path + ["categories"], "name at least one flag category") }
            for (j, name) in cap.categories.enumerated() where ethics.flags.penalties[name] == nil {
                throw fail(path + ["categories", String(j)], "unknown flag category '\(name)' (known: \(categoryNames.joined(separator: ", ")))")
            }
            guard !cap.statuses.isEmpty else { throw fail(path + ["statuses"], "name at least one flag status") }
            for (j, name) in cap.statuses.enumerated() {
                guard let status = FlagStatus(rawValue: name) else {
                    throw fail(
                        path + ["statuses", String(j)],
                        "unknown flag status '\(name)' (known: \(counting.map(\.rawValue).joined(separator: ", ")))"
                    )
                }
                guard status != .retracted else {
                    throw fail(path + ["statuses", String(j)], "retracted flags count nothing and cannot cap a grade")
                }
            }
            guard (1...5).contains(cap.minSeverity) else { throw fail(path + ["min_severity"], "must be 1 to 5") }
            guard cap.maxGrade != .revoked else {
                throw fail(path + ["max_grade"], "a flag cannot revoke: only an adjudicated ban does (use A, B, C or D)")
            }
        }

        // Skill.
        let sp = ["skill"]
        try within(skill.priorMean, 1...5, sp + ["prior_mean"])
        try within(skill.levelWeight, 0...1, sp + ["level_weight"])
        try within(skill.reviewWeight, 0...1, sp + ["review_weight"])
        guard abs(skill.levelWeight + skill.reviewWeight - 1) < 1e-9 else {
            throw fail(sp, "level_weight and review_weight must add up to 1 (they add up to \(Self.show(skill.levelWeight + skill.reviewWeight)))")
        }
        guard skill.levelPoints.count == 6 else {
            throw fail(sp + ["level_points"], "needs six values: no level, then levels 1 to 5")
        }
        for (i, points) in skill.levelPoints.enumerated() {
            try within(points, 0...100, sp + ["level_points", String(i)])
            if i > 0, points < skill.levelPoints[i - 1] {
                throw fail(sp + ["level_points", String(i)], "a higher level may not give fewer points")
            }
        }
        try dimensionWeights(skill.reviewDimensions, sp + ["review_dimensions"])
        if let shared = Set(skill.reviewDimensions.keys).intersection(ethics.reviewDimensions.keys).sorted().first {
            throw fail(sp + ["review_dimensions", shared], "'\(shared)' is also an ethics dimension")
        }
        let lp = sp + ["levels"]
        guard (1...36_500).contains(skill.levels.staleAfterDays) else { throw fail(lp + ["stale_after_days"], "must be 1 to 36500 days") }
        guard (0...4).contains(skill.levels.staleDrop) else { throw fail(lp + ["stale_drop"], "must be 0 to 4 levels") }
        let nudge = skill.levels.reviewNudge
        try within(nudge.upAt, 1...5, lp + ["review_nudge", "up_at"])
        try within(nudge.downAt, 1...5, lp + ["review_nudge", "down_at"])
        guard nudge.downAt < nudge.upAt else { throw fail(lp + ["review_nudge", "down_at"], "must be below up_at") }
        guard (0...2).contains(nudge.maxSteps) else { throw fail(lp + ["review_nudge", "max_steps"], "reviews may move a level by 0 to 2 steps") }
        for name in skill.categories.keys.sorted() {
            let path = sp + ["categories", name]
            guard isStoredName(name) else { throw fail(path, "'\(name)' must be 2-40 lowercase letters or '_'") }
            if !categoryOrder.isEmpty, !categoryOrder.contains(name) {
                throw fail(path, "'\(name)' is not a category of any sector in sectors.yaml (known: \(categoryOrder.joined(separator: ", ")))")
            }
            let rule = skill.categories[name]!
            for (j, dimension) in rule.reviewDimensions.enumerated() where skill.reviewDimensions[dimension] == nil {
                throw fail(path + ["review_dimensions", String(j)], "'\(dimension)' is not one of skill.review_dimensions")
            }
            guard (0...5).contains(rule.certificateMinimumLevel) else {
                throw fail(path + ["certificate_minimum_level"], "must be 0 (no raise) to 5")
            }
        }
        for name in categoryOrder where skill.categories[name] == nil {
            throw fail(sp + ["categories"], "no rule for service category '\(name)' (sectors.yaml declares it)")
        }
        try within(skill.trainings.pointsEach, 0...100, sp + ["trainings", "points_each"])
        try within(skill.trainings.maxPoints, 0...100, sp + ["trainings", "max_points"])
        try within(skill.health.missing, 0...100, sp + ["health", "missing"])
        try within(skill.health.restricted, 0...100, sp + ["health", "restricted"])
        try within(skill.health.unfit, 0...100, sp + ["health", "unfit"])

        // Reasons: every code the grader can give has a text and advice in both languages.
        guard (1...10).contains(reasons.maxFactors) else { throw fail(["reasons", "max_factors"], "must be 1 to 10") }
        try within(reasons.limitedHistoryBelow, 0...1000, ["reasons", "limited_history_below"])
        let codes = reasonCodes
        for code in reasons.texts.keys.sorted() where !codes.contains(code) {
            throw fail(["reasons", "texts", code], "'\(code)' is not a reason code the grader gives")
        }
        for code in codes {
            guard let byLanguage = reasons.texts[code] else {
                throw fail(["reasons", "texts"], "reason code '\(code)' has no texts (needs \(Self.languages.joined(separator: " and ")))")
            }
            for language in Self.languages {
                guard let text = byLanguage[language] else {
                    throw fail(["reasons", "texts", code], "reason code '\(code)' has no \(language) text")
                }
                if text.text.trimmingWhitespace().isEmpty {
                    throw fail(["reasons", "texts", code, language, "text"], "must not be empty")
                }
                if text.improve.trimmingWhitespace().isEmpty {
                    throw fail(["reasons", "texts", code, language, "improve"], "must not be empty")
                }
            }
        }

        // Examples are well formed (whether they pass is `checkExamples`).
        for (i, example) in examples.enumerated() {
            let path = ["examples", String(i)]
            guard !example.name.trimmingWhitespace().isEmpty else { throw fail(path + ["name"], "must not be empty") }
            if let range = example.expect.compositeBetween {
                guard range.count == 2, range[0] <= range[1], range.allSatisfy({ (0...100).contains($0) }) else {
                    throw fail(path + ["expect", "composite_between"], "must be [low, high] with 0 <= low <= high <= 100")
                }
            }
            let input = path + ["input"]
            for (j, flag) in example.input.flags.enumerated() where ethics.flags.penalties[flag.category.rawValue] == nil {
                throw fail(
                    input + ["flags", String(j), "category"],
                    "unknown flag category '\(flag.category.rawValue)' (known: \(categoryNames.joined(separator: ", ")))"
                )
            }
            let known = orderedCategories
            for (j, a) in example.input.assessments.enumerated() where skill.categories[a.category.rawValue] == nil {
                throw fail(
                    input + ["assessments", String(j), "category"],
                    "unknown service category '\(a.category.rawValue)' (known: \(known.joined(separator: ", ")))"
                )
            }
            for (j, c) in example.input.categories.enumerated() where skill.categories[c.rawValue] == nil {
                throw fail(input + ["categories", String(j)], "unknown service category '\(c.rawValue)' (known: \(known.joined(separator: ", ")))")
            }
            if let code = example.expect.topFactor, !codes.contains(code) || GradeReasonCode.statuses.contains(code) || code.hasPrefix("review_") {
                throw fail(path + ["expect", "top_factor"], "'\(code)' is not a factor code")
            }
        }

        func dimensionWeights(_ weights: [String: Double], _ path: [String]) throws(PolicyError) {
            guard !weights.isEmpty else { throw fail(path, "needs at least one dimension") }
            for name in weights.keys.sorted() {
                guard isName(name), name != Grader.agencyKey else { throw fail(path + [name], "a dimension is a lower-case name like 'honesty'") }
                try within(weights[name]!, 0...100, path + [name])
            }
            guard weights.values.contains(where: { $0 > 0 }) else { throw fail(path, "at least one dimension must weigh more than 0") }
        }
    }

    static func show(_ x: Double) -> String {
        let r = GradingMath.round2(x)
        return r == r.rounded() && abs(r) < 1e15 ? String(Int(r)) : String(r)
    }
}

extension GradingPolicy {
    /// The band a (rounded) composite falls in: the first band whose threshold it reaches.
    public func band(for composite: Double) -> CreditGrade {
        bands.first { composite >= $0.min }?.grade ?? .d
    }
}

extension GradingPolicy.Example {
    /// Why `result` does not meet the expectation, or nil.
    public func mismatch(_ result: GradeResult) -> String? {
        var problems: [String] = []
        if result.grade != expect.grade {
            problems.append("expected grade \(expect.grade.rawValue), got \(result.grade.rawValue)")
        }
        if let range = expect.compositeBetween, range.count == 2, !(range[0]...range[1]).contains(result.composite) {
            problems.append(
                "expected a composite within \(GradingPolicy.show(range[0]))-\(GradingPolicy.show(range[1])), got \(GradingPolicy.show(result.composite))"
            )
        }
        if let code = expect.topFactor, result.factors.first?.code != code {
            problems.append("expected top factor \(code), got \(result.factors.first?.code ?? "none")")
        }
        guard !problems.isEmpty else { return nil }
        return problems.joined(separator: "; ") + " (composite \(GradingPolicy.show(result.composite)))"
    }
}
