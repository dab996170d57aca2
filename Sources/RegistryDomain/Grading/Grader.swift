/// The grader: a pure function from a worker's records and a validated policy to her grade.
///
/// - Ethics (0-100): the Bayesian mean of employers' ethics scores and agencies' ethics ratings,
///   each weighed by its age (half-life) and shrunk toward the prior, mapped 1-5 → 0-100, minus
///   the penalties of counting flags.
/// - Skill (0-100): points for the best level over the service categories (latest assessment,
///   confirmed or raised by certificates, nudged by reviews), blended with the Bayesian mean of
///   employers' skill scores, plus trainings, minus a health penalty.
/// - Composite = ethics weight × ethics + skill weight × skill; bands A-D; a grade cap from a
///   serious flag; REVOKED when barred.
///
/// Every factor's contribution is measured against the baseline (the same policy applied to a
/// worker with no record), and the contributions add up to composite − baseline, so the listed
/// reasons are the true largest factors. Inputs are put in a canonical order first: the same
/// records in any order give the same result, to the last bit.
public struct Grader: Sendable {
    public let policy: GradingPolicy

    /// Validates the policy's rules (not its examples).
    public init(policy: GradingPolicy) throws(PolicyError) {
        try policy.validateRules()
        self.policy = policy
    }

    /// The categories a grade gives levels in: those she is registered in and those with an
    /// assessment or a certificate, in the sectors' order; a name the policy does not know
    /// (data written under an older policy) last, by name, never dropped.
    static func gradedCategories(_ input: GradingInput, order: [String]) -> [ServiceCategory] {
        var wanted = Set(input.categories)
        for a in input.assessments { wanted.insert(a.category) }
        for q in input.qualifications where q.kind == .certificate { if let c = q.category { wanted.insert(c) } }
        var result: [ServiceCategory] = []
        for name in order {
            let c = ServiceCategory(name)
            if wanted.remove(c) != nil { result.append(c) }
        }
        return result + wanted.sorted()
    }

    public func grade(_ input: GradingInput) -> GradeResult {
        let today = input.today
        let pw = policy.shrinkage.priorWeight
        func age(_ day: CivilDate) -> Int { today.daysSinceEpoch - day.daysSinceEpoch }
        func decay(_ day: CivilDate) -> Double { GradingMath.decay(ageDays: age(day), halfLifeDays: policy.decay.halfLifeDays) }

        let reviews = input.reviews.sorted(by: Self.precedes)
        // Each review's age and decay, computed once.
        let reviewDecay = reviews.map { decay($0.reviewedOn) }
        let reviewAge = reviews.map { age($0.reviewedOn) }
        let ratings = input.agencyRatings.sorted { ($0.ratedOn, $0.rating, $0.sealed ? 1 : 0) < ($1.ratedOn, $1.rating, $1.sealed ? 1 : 0) }
        let flags = input.flags.sorted {
            ($0.occurredOn, $0.category.rawValue, $0.status.rawValue, $0.severity, $0.expiresOn?.iso ?? "")
                < ($1.occurredOn, $1.category.rawValue, $1.status.rawValue, $1.severity, $1.expiresOn?.iso ?? "")
        }

        // MARK: Ethics

        let ep = policy.ethics
        var ethicsMean = WeightedMean(priorMean: ep.priorMean, priorWeight: pw)
        var ethicsReviews = 0
        for (i, review) in reviews.enumerated() {
            let scored = Self.scores(review.ethics, weights: ep.reviewDimensions)
            guard !scored.isEmpty else { continue }
            ethicsReviews += 1
            ethicsMean.add(source: "review", date: review.reviewedOn, ageDays: reviewAge[i], decay: reviewDecay[i], sourceWeight: 1, scored: scored)
        }
        var ratingsCounted = 0
        for rating in ratings where (1...5).contains(rating.rating) {
            let sourceWeight = rating.sealed ? ep.agencyRatings.sealedWeight : ep.agencyRatings.openWeight
            guard sourceWeight > 0 else { continue }
            ratingsCounted += 1
            ethicsMean.add(
                source: "agency_rating",
                date: rating.ratedOn,
                ageDays: age(rating.ratedOn),
                decay: decay(rating.ratedOn),
                sourceWeight: sourceWeight,
                scored: [(Self.agencyKey, 1, Double(rating.rating))]
            )
        }
        let ethicsShrunk = ethicsMean.result()
        var ethicsReviewDimensions = ethicsShrunk.shares
        let agencyPoints = ethicsReviewDimensions.removeValue(forKey: Self.agencyKey) ?? 0
        // Factor key → points on the ethics score.
        var ethicsFactors: [(String, Double)] = [
            (Self.ethicsReviewsKey, ethicsReviewDimensions.keys.sorted().reduce(0) { $0 + ethicsReviewDimensions[$1]! }),
            (Self.agencyKey, agencyPoints),
        ]

        var flagItems: [GradeComputation.FlagItem] = []
        var flagCount: [FlagCategory: Int] = [:]
        var flagPenalty = 0.0
        for flag in flags {
            let ignored: String? = flag.status == .retracted ? "retracted" : flag.isExpired(on: today) ? "expired" : nil
            var points = 0.0
            if ignored == nil {
                let severity = min(5, max(1, flag.severity))
                points =
                    (ep.flags.penalties[flag.category.rawValue] ?? 0) * (ep.flags.statusFactors[flag.status.rawValue] ?? 0)
                    * ep.flags.severityFactors[severity - 1]
                flagPenalty += points
                flagCount[flag.category, default: 0] += 1
                ethicsFactors.append((GradeReasonCode.flag(flag.category), -points))
            }
            flagItems.append(
                .init(
                    category: flag.category,
                    status: flag.status,
                    severity: flag.severity,
                    occurredOn: flag.occurredOn,
                    expiresOn: flag.expiresOn,
                    ignored: ignored,
                    points: points
                )
            )
        }
        let ethicsBaseline = GradingMath.percent(fromMean: ep.priorMean)
        let ethicsRaw = ethicsShrunk.score - flagPenalty
        let ethicsScore = GradingMath.clamp(ethicsRaw, 0, 100)
        if ethicsScore != ethicsRaw { Self.fit(&ethicsFactors, to: ethicsScore - ethicsBaseline) }

        // MARK: Skill

        let sp = policy.skill
        let skillScored = reviews.map { Self.scores($0.skill, weights: sp.reviewDimensions) }
        var steps: [GradeComputation.LevelStep] = []
        var levels: [ServiceCategory: Int] = [:]
        let graded = Self.gradedCategories(input, order: policy.orderedCategories)
        for category in graded {
            let rule = sp.categories[category.rawValue] ?? .init(reviewDimensions: [], certificateMinimumLevel: 0)
            let assessed = input.assessments.filter { $0.category == category && (1...5).contains($0.level) }
            let base: GradingInput.SkillAssessment? =
                switch sp.levels.rule {
                case .latest: assessed.max { ($0.assessedOn, $0.level) < ($1.assessedOn, $1.level) }
                case .highest: assessed.max { ($0.level, $0.assessedOn) < ($1.level, $1.assessedOn) }
                }
            let certified = input.qualifications.contains { $0.kind == .certificate && $0.category == category && $0.isValid(on: today) }
            var level = base?.level
            var staleDrop = 0
            if let b = base, age(b.assessedOn) > sp.levels.staleAfterDays, !certified {
                staleDrop = min(sp.levels.staleDrop, b.level - 1)
                level = b.level - staleDrop
            }
            var raise = 0
            if certified, rule.certificateMinimumLevel > (level ?? 0) {
                raise = rule.certificateMinimumLevel - (level ?? 0)
                level = rule.certificateMinimumLevel
            }
            var categoryMean = WeightedMean(priorMean: sp.priorMean, priorWeight: pw, keepsEvidence: false)
            for (i, scored) in skillScored.enumerated() where reviews[i].category == nil || reviews[i].category == category {
                let relevant = scored.filter { rule.reviewDimensions.contains($0.0) }
                guard !relevant.isEmpty else { continue }
                categoryMean.add(
                    source: "review",
                    date: reviews[i].reviewedOn,
                    ageDays: reviewAge[i],
                    decay: reviewDecay[i],
                    sourceWeight: 1,
                    scored: relevant
                )
            }
            let shrunk = categoryMean.result()
            let reviewMean: Double? = shrunk.evidenceWeight > 0 ? shrunk.mean : nil
            var nudge = 0
            if let l = level, let m = reviewMean {
                if m >= sp.levels.reviewNudge.upAt {
                    nudge = min(sp.levels.reviewNudge.maxSteps, 5 - l)
                } else if m <= sp.levels.reviewNudge.downAt {
                    nudge = -min(sp.levels.reviewNudge.maxSteps, l - 1)
                }
                level = l + nudge
            }
            if let l = level { levels[category] = l }
            if base != nil || certified || reviewMean != nil {
                steps.append(
                    .init(
                        category: category,
                        assessedLevel: base?.level,
                        assessedOn: base?.assessedOn,
                        certified: certified,
                        staleDrop: staleDrop,
                        certificateRaise: raise,
                        reviewMean: reviewMean,
                        reviewWeight: shrunk.evidenceWeight,
                        nudge: nudge,
                        level: level
                    )
                )
            }
        }
        var best: (category: ServiceCategory, level: Int)?
        for category in graded {
            if let l = levels[category], l > (best?.level ?? 0) { best = (category, l) }
        }
        let levelPoints = sp.levelPoints[best?.level ?? 0]

        var skillMean = WeightedMean(priorMean: sp.priorMean, priorWeight: pw)
        var skillReviews = 0
        for (i, scored) in skillScored.enumerated() where !scored.isEmpty {
            skillReviews += 1
            skillMean.add(
                source: "review",
                date: reviews[i].reviewedOn,
                ageDays: reviewAge[i],
                decay: reviewDecay[i],
                sourceWeight: 1,
                scored: scored
            )
        }
        let skillShrunk = skillMean.result()

        let trainingsCounted = input.qualifications.filter { $0.kind == .training && $0.isValid(on: today) }.count
        let trainingPoints = min(sp.trainings.maxPoints, Double(trainingsCounted) * sp.trainings.pointsEach)

        let currentHealth = input.healthCertificates.filter { $0.isValid(on: today) }.max {
            ($0.issuedOn, Self.healthRank($0.result)) < ($1.issuedOn, Self.healthRank($1.result))
        }
        let health = currentHealth?.result.rawValue ?? "missing"
        let (healthPenalty, healthCode): (Double, String) =
            switch currentHealth?.result {
            case nil: (sp.health.missing, GradeReasonCode.healthMissing)
            case .fit?: (0, GradeReasonCode.healthMissing)
            case .restricted?: (sp.health.restricted, GradeReasonCode.healthRestricted)
            case .unfit?: (sp.health.unfit, GradeReasonCode.healthUnfit)
            }

        let skillBaseline = sp.levelWeight * sp.levelPoints[0] + sp.reviewWeight * GradingMath.percent(fromMean: sp.priorMean)
        let skillRaw = sp.levelWeight * levelPoints + sp.reviewWeight * skillShrunk.score + trainingPoints - healthPenalty
        let skillScore = GradingMath.clamp(skillRaw, 0, 100)
        let skillReviewPoints = skillShrunk.shares.keys.sorted().reduce(0) { $0 + skillShrunk.shares[$1]! }
        var skillFactors: [(String, Double)] = [
            (GradeReasonCode.skillLevel, sp.levelWeight * (levelPoints - sp.levelPoints[0])),
            (Self.skillReviewsKey, sp.reviewWeight * skillReviewPoints),
            (GradeReasonCode.trainings, trainingPoints),
            (healthCode, -healthPenalty),
        ]
        if skillScore != skillRaw { Self.fit(&skillFactors, to: skillScore - skillBaseline) }

        // MARK: Composite, band, caps

        let weights = policy.compositeWeights(for: input.categories.isEmpty ? graded : input.categories)
        let we = weights.ethicsWeight
        let ws = weights.skillWeight
        let compositeValue = we * ethicsScore + ws * skillScore
        let composite = GradingMath.round2(compositeValue)
        let baseline = GradeComputation.Scores(ethics: ethicsBaseline, skill: skillBaseline, composite: we * ethicsBaseline + ws * skillBaseline)
        let band = policy.band(for: composite)

        var cap: (grade: CreditGrade, by: FlagCategory)?
        for flag in flags where flag.counts(on: today) {
            for rule in policy.ethics.flags.gradeCaps
            where rule.categories.contains(flag.category.rawValue) && rule.statuses.contains(flag.status.rawValue)
                && min(5, max(1, flag.severity)) >= rule.minSeverity
            {
                if cap == nil || rule.maxGrade.rank > cap!.grade.rank { cap = (rule.maxGrade, flag.category) }
            }
        }
        var grade = band
        if let cap { grade = grade.worse(cap.grade) }
        if input.barred { grade = .revoked }

        // MARK: Contributions and reasons

        var byKey: [String: (part: String, points: Double)] = [:]
        var order: [String] = []
        for (factors, part) in [(ethicsFactors, "ethics"), (skillFactors, "skill")] {
            for (key, points) in factors {
                if byKey[key] == nil { order.append(key) }
                byKey[key, default: (part, 0)].points += points
            }
        }
        var contributions: [GradeComputation.Contribution] = []
        var params: [String: [String: String]] = [:]
        for key in order {
            let (part, points) = byKey[key]!
            guard points != 0 else { continue }
            let weight = part == "ethics" ? we : ws
            var code = key
            var dimensions: [String: Double]?
            switch key {
            case Self.agencyKey:
                code = points > 0 ? GradeReasonCode.agencyEthicsHigh : GradeReasonCode.agencyEthicsLow
                params[code] = ["count": String(ratingsCounted)]
            case Self.ethicsReviewsKey, Self.skillReviewsKey:
                let ethics = key == Self.ethicsReviewsKey
                code =
                    ethics
                    ? (points > 0 ? GradeReasonCode.reviewsEthicsHigh : GradeReasonCode.reviewsEthicsLow)
                    : (points > 0 ? GradeReasonCode.reviewsSkillHigh : GradeReasonCode.reviewsSkillLow)
                // Per dimension, on the composite; the clamping scale (if any) applies alike.
                let shares = ethics ? ethicsReviewDimensions : skillShrunk.shares
                let total = shares.keys.sorted().reduce(0) { $0 + shares[$1]! }
                let scale = total == 0 ? 0 : points / total
                dimensions = shares.mapValues { $0 * scale * weight }
                var p = ["count": String(ethics ? ethicsReviews : skillReviews)]
                // The dimension that moved it most in its direction, if one stands out.
                let ranked = shares.keys.sorted().map { (name: $0, push: shares[$0]! * (points > 0 ? 1 : -1)) }.sorted { $0.push > $1.push }
                if let top = ranked.first, top.push > 0, ranked.count == 1 || top.push - ranked[1].push > 1e-9 {
                    p["dimension"] = top.name
                }
                params[code] = p
            case GradeReasonCode.skillLevel:
                if let best { params[code] = ["category": best.category.rawValue, "level": String(best.level)] }
            case GradeReasonCode.trainings:
                params[code] = ["count": String(trainingsCounted)]
            default:
                if key.hasPrefix(GradeReasonCode.flagPrefix) {
                    params[code] = ["count": String(flagCount[FlagCategory(String(key.dropFirst(GradeReasonCode.flagPrefix.count)))] ?? 0)]
                }
            }
            contributions.append(.init(code: code, part: part, points: points, composite: points * weight, dimensions: dimensions))
        }
        contributions.sort { (abs($0.composite), $1.code) > (abs($1.composite), $0.code) }

        var reasons: [GradeReason] = []
        if input.barred { reasons.append(.status(GradeReasonCode.barred)) }
        if let cap, cap.grade.rank > band.rank, !input.barred {
            reasons.append(.status(GradeReasonCode.flagGradeCap, ["category": cap.by.rawValue, "max_grade": cap.grade.rawValue]))
        }
        if !input.barred {
            if input.suspended { reasons.append(.status(GradeReasonCode.interimSuspension)) }
            if ethicsShrunk.evidenceWeight < policy.reasons.limitedHistoryBelow { reasons.append(.status(GradeReasonCode.limitedHistory)) }
            if levels.isEmpty { reasons.append(.status(GradeReasonCode.skillNotAssessed)) }
        }
        for c in contributions.lazy.filter({ GradingMath.round2($0.composite) != 0 }).prefix(policy.reasons.maxFactors) {
            reasons.append(GradeReason(code: c.code, kind: .factor, contribution: GradingMath.round2(c.composite), params: params[c.code] ?? [:]))
        }

        let computation = GradeComputation(
            policyVersion: policy.version,
            today: today,
            baseline: baseline,
            ethics: .init(reviewsAndRatings: ethicsShrunk, flags: flagItems, flagPenalty: flagPenalty, raw: ethicsRaw, score: ethicsScore),
            skill: .init(
                levels: steps,
                bestLevel: best?.level,
                bestCategory: best?.category,
                levelPoints: levelPoints,
                reviews: skillShrunk,
                trainingsCounted: trainingsCounted,
                trainingPoints: trainingPoints,
                health: health,
                healthPenalty: healthPenalty,
                raw: skillRaw,
                score: skillScore
            ),
            composite: .init(
                ethicsWeight: we,
                skillWeight: ws,
                value: compositeValue,
                rounded: composite,
                band: band,
                cappedAt: cap?.grade,
                cappedBy: cap?.by,
                barred: input.barred,
                suspended: input.suspended,
                grade: grade
            ),
            contributions: contributions
        )

        return GradeResult(
            grade: grade,
            composite: composite,
            ethicsScore: GradingMath.round2(ethicsScore),
            skillScore: GradingMath.round2(skillScore),
            skillLevels: levels,
            reasons: reasons,
            policyVersion: policy.version,
            computation: computation
        )
    }

    // MARK: Helpers

    /// Internal factor keys (the reason code depends on the sign).
    static let agencyKey = "agency_rating"
    static let ethicsReviewsKey = "reviews_ethics"
    static let skillReviewsKey = "reviews_skill"

    /// The valid scores of the dimensions the policy weighs (name, weight, score), by name.
    static func scores(_ scores: [String: Int], weights: [String: Double]) -> [(String, Double, Double)] {
        scores.keys.sorted().compactMap { name in
            guard let w = weights[name], w > 0, let v = scores[name], (1...5).contains(v) else { return nil }
            return (name, w, Double(v))
        }
    }

    /// The order in which reviews are counted, whatever order they came in: by day, then (for
    /// reviews of the same day) by category and by their scores, so that two nodes sum them alike.
    /// The common case, different days, compares two integers.
    static func precedes(_ a: GradingInput.Review, _ b: GradingInput.Review) -> Bool {
        let da = a.reviewedOn.daysSinceEpoch
        let db = b.reviewedOn.daysSinceEpoch
        if da != db { return da < db }
        let ca = a.category?.rawValue ?? ""
        let cb = b.category?.rawValue ?? ""
        if ca != cb { return ca < cb }
        func pairs(_ d: [String: Int]) -> [(String, Int)] { d.keys.sorted().map { ($0, d[$0]!) } }
        for (x, y) in [(a.skill, b.skill), (a.ethics, b.ethics)] {
            let px = pairs(x)
            let py = pairs(y)
            for (p, q) in zip(px, py) where p != q { return p < q }
            if px.count != py.count { return px.count < py.count }
        }
        return false
    }

    static func healthRank(_ r: HealthResult) -> Int {
        switch r {
        case .fit: 0
        case .restricted: 1
        case .unfit: 2
        }
    }

    /// Scales the factors that pushed a score past its bound so that they add up to `target`
    /// (the score − baseline after clamping): positives when above 100, negatives when below 0.
    static func fit(_ factors: inout [(String, Double)], to target: Double) {
        let sum = factors.reduce(0) { $0 + $1.1 }
        let excess = sum - target
        if excess > 0 {
            let positives = factors.reduce(0) { $0 + max(0, $1.1) }
            guard positives > 0 else { return }
            let k = max(0, (positives - excess) / positives)
            factors = factors.map { ($0.0, $0.1 > 0 ? $0.1 * k : $0.1) }
        } else if excess < 0 {
            let negatives = factors.reduce(0) { $0 + max(0, -$1.1) }
            guard negatives > 0 else { return }
            let k = max(0, (negatives + excess) / negatives)
            factors = factors.map { ($0.0, $0.1 < 0 ? $0.1 * k : $0.1) }
        }
    }
}

/// A Bayesian mean of decayed evidence that can say how much each dimension moved it.
struct WeightedMean {
    let priorMean: Double
    let priorWeight: Double
    let keepsEvidence: Bool
    private(set) var evidence: [GradeComputation.Evidence] = []
    private var weightSum = 0.0
    private var valueSum = 0.0
    /// key → Σ weight × share of (score − prior mean).
    private var shares: [String: Double] = [:]

    init(priorMean: Double, priorWeight: Double, keepsEvidence: Bool = true) {
        self.priorMean = priorMean
        self.priorWeight = priorWeight
        self.keepsEvidence = keepsEvidence
    }

    /// One item scored in several dimensions: (key, dimension weight, score 1-5).
    mutating func add(source: String, date: CivilDate, ageDays: Int, decay: Double, sourceWeight: Double, scored: [(String, Double, Double)]) {
        let totalWeight = scored.reduce(0) { $0 + $1.1 }
        guard totalWeight > 0 else { return }
        let value = scored.reduce(0) { $0 + $1.1 * $1.2 } / totalWeight
        let w = decay * sourceWeight
        if keepsEvidence { evidence.append(.init(source: source, date: date, ageDays: ageDays, decay: decay, weight: w, value: value)) }
        weightSum += w
        valueSum += w * value
        for (key, a, v) in scored {
            shares[key, default: 0] += w * a * (v - priorMean) / totalWeight
        }
    }

    func result() -> GradeComputation.ShrunkMean {
        let mean = (priorMean * priorWeight + valueSum) / (priorWeight + weightSum)
        return .init(
            priorMean: priorMean,
            priorWeight: priorWeight,
            evidenceWeight: weightSum,
            mean: mean,
            score: GradingMath.percent(fromMean: mean),
            shares: shares.mapValues { 25 * $0 / (priorWeight + weightSum) },
            evidence: evidence
        )
    }
}
