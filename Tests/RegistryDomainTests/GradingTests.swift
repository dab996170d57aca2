import Foundation
import Testing

@testable import RegistryDomain

private typealias F = GradingFixtures

private func grade(_ input: GradingInput, _ policy: GradingPolicy = F.policy()) -> GradeResult {
    F.grader(policy).grade(input)
}

@Suite("Grader: bands and weights")
struct GradingBandsAndWeightsTests {
    @Test(
        "a composite at or above a band's threshold gets that band",
        arguments: [(100.0, CreditGrade.a), (87, .a), (86.99, .b), (70, .b), (69.99, .c), (50, .c), (49.99, .d), (0, .d)]
    )
    func bands(composite: Double, grade: CreditGrade) {
        #expect(F.policy().band(for: composite) == grade)
    }

    @Test("the grade is the band of the rounded composite, unless capped or barred")
    func gradeIsBand() {
        for policy in [F.policy(), F.policy(bands: [90, 80, 60, 0])] {
            for input in F.randomInputs(count: 300) {
                let r = grade(input, policy)
                #expect(r.computation.composite.band == policy.band(for: r.composite))
                if !input.barred && r.computation.composite.cappedAt == nil {
                    #expect(r.grade == policy.band(for: r.composite))
                }
            }
        }
    }

    @Test(
        "composite = ethics weight × ethics + skill weight × skill, as the policy says",
        arguments: [(0.65, 0.35), (0.8, 0.2), (0.51, 0.49)]
    )
    func weights(ethics we: Double, skill ws: Double) {
        let policy = F.policy(ethicsWeight: we, skillWeight: ws)
        for input in F.randomInputs(count: 200) {
            let r = grade(input, policy)
            let c = r.computation
            #expect(abs(c.composite.value - (we * c.ethics.score + ws * c.skill.score)) < 1e-9)
            #expect(r.composite == GradingMath.round2(c.composite.value))
            #expect(r.ethicsScore == GradingMath.round2(c.ethics.score))
            #expect(r.skillScore == GradingMath.round2(c.skill.score))
            #expect((0...100).contains(r.composite) && (0...100).contains(r.ethicsScore) && (0...100).contains(r.skillScore))
        }
    }

    @Test("an ethics point moves the composite by the ethics weight, a skill point by the skill weight")
    func weightsApplyToTheParts() {
        let base = grade(F.goodWorker())
        var flagged = F.goodWorker()
        flagged.flags = [F.flag(.debtDefault, .adjudicated, severity: 3)]  // 12 ethics points
        let f = grade(flagged)
        #expect(abs((base.computation.composite.value - f.computation.composite.value) - 0.65 * 12) < 1e-9)
        var trained = F.goodWorker()
        trained.qualifications = [F.training()]  // 2 skill points
        let t = grade(trained)
        #expect(abs((t.computation.composite.value - base.computation.composite.value) - 0.35 * 2) < 1e-9)
    }
}

@Suite("Grader: ethics weighs more than skill")
struct GradingEthicsOutweighsSkillTests {
    @Test("top skills with poor conduct grade below average skills with good conduct")
    func ethicsOutweighsSkill() {
        let topSkillPoorEthics = GradingInput(
            today: F.today,
            assessments: [F.assessment(.cooking, 5)],
            qualifications: [F.certificate(.cooking), F.training(), F.training(), F.training()],
            healthCertificates: [F.fitHealth],
            reviews: (0..<6).map { F.review(2, skill: 5, daysAgo: 20 + 50 * $0, skillDimensions: ["cooking", "quality", "punctuality"]) }
        )
        let averageSkillGoodEthics = GradingInput(
            today: F.today,
            assessments: [F.assessment(.housekeeping, 3)],
            healthCertificates: [F.fitHealth],
            reviews: (0..<6).map { F.review(5, skill: 3, daysAgo: 20 + 50 * $0) }
        )
        let poor = grade(topSkillPoorEthics)
        let good = grade(averageSkillGoodEthics)
        #expect(poor.skillScore > good.skillScore)
        #expect(poor.ethicsScore < good.ethicsScore)
        #expect(poor.composite < good.composite)
        #expect(poor.grade.rank > good.grade.rank, "\(poor.grade) vs \(good.grade)")
        #expect(poor.factors.first?.code == GradeReasonCode.reviewsEthicsLow)
    }
}

@Suite("Grader: shrinkage toward the prior")
struct GradingShrinkageTests {
    static let topSkilled = GradingInput(
        today: F.today,
        assessments: [F.assessment(.elderCare, 5)],
        qualifications: [F.certificate(.elderCare), F.training(), F.training(), F.training()],
        healthCertificates: [F.fitHealth]
    )

    @Test("one or two 5-star reviews do not make even a top-skilled new worker an A")
    func fewPerfectReviews() {
        for n in 1...2 {
            var input = Self.topSkilled
            input.reviews = Array(repeating: F.review(5, daysAgo: 5, skillDimensions: ["eldercare", "punctuality", "quality"]), count: n)
            let r = grade(input)
            #expect(r.grade != .a, "\(n) reviews: \(r.composite)")
            // Without (almost) any shrinkage the same reviews would make her an A.
            #expect(grade(input, F.policy(priorWeight: 1)).grade == .a)
        }
    }

    @Test("one or two 1-star reviews do not make even a worker with nothing else on file a D")
    func fewTerribleReviews() {
        for n in 1...2 {
            let input = GradingInput(today: F.today, reviews: Array(repeating: F.review(1, daysAgo: 5), count: n))
            let r = grade(input)
            #expect(r.grade != .d, "\(n) reviews: \(r.composite)")
            #expect(grade(input, F.policy(priorWeight: 1)).grade == .d)
        }
    }

    @Test("many reviews do move the grade: shrinkage is not a ceiling")
    func manyReviews() {
        var input = Self.topSkilled
        input.reviews = (0..<20).map { F.review(5, daysAgo: 10 + 20 * $0, skillDimensions: ["eldercare"]) }
        #expect(grade(input).grade == .a)
        input.reviews = (0..<20).map { F.review(1, daysAgo: 10 + 20 * $0, skillDimensions: ["eldercare"]) }
        #expect(grade(input).grade == .d)
    }

    @Test("the ethics mean is the Bayesian average of prior and evidence")
    func bayesianAverage() {
        var input = F.newWorker()
        input.reviews = [F.review(5, daysAgo: 0)]
        let m = grade(input).computation.ethics.reviewsAndRatings
        #expect(abs(m.mean - (4.0 * 6 + 5) / 7) < 1e-12)
        #expect(abs(m.score - (m.mean - 1) * 25) < 1e-12)
        // More evidence, closer to it: the gap to 5 shrinks with every further review.
        var gaps: [Double] = []
        for n in 1...8 {
            input.reviews = Array(repeating: F.review(5, daysAgo: 0), count: n)
            gaps.append(5 - grade(input).computation.ethics.reviewsAndRatings.mean)
        }
        #expect(zip(gaps, gaps.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test("a sealed agency rating counts as more reviews than an open one")
    func agencyWeights() {
        var sealed = F.newWorker()
        var open = F.newWorker()
        sealed.agencyRatings = [.init(rating: 5, ratedOn: F.today, sealed: true)]
        open.agencyRatings = [.init(rating: 5, ratedOn: F.today, sealed: false)]
        let s = grade(sealed)
        let o = grade(open)
        #expect(s.computation.ethics.reviewsAndRatings.evidenceWeight == 2)
        #expect(o.computation.ethics.reviewsAndRatings.evidenceWeight == 1)
        #expect(s.composite > o.composite)
        #expect(s.factors.first?.code == GradeReasonCode.agencyEthicsHigh)
    }
}

@Suite("Grader: time decay")
struct GradingDecayTests {
    @Test("an old bad review weighs less than a recent one")
    func oldBadReview() {
        var old = F.goodWorker()
        var recent = F.goodWorker()
        old.reviews.append(F.review(1, daysAgo: 6 * 365))
        recent.reviews.append(F.review(1, daysAgo: 3))
        let o = grade(old)
        let r = grade(recent)
        let base = grade(F.goodWorker())
        #expect(o.composite > r.composite)
        #expect(base.composite - o.composite < (base.composite - r.composite) / 2)
    }

    @Test("recent good reviews outweigh old bad ones, and the reverse")
    func recencyWins() {
        let oldBad = (0..<3).map { F.review(1, daysAgo: 2200 + $0) } + (0..<3).map { F.review(5, daysAgo: 30 + $0) }
        let oldGood = (0..<3).map { F.review(5, daysAgo: 2200 + $0) } + (0..<3).map { F.review(1, daysAgo: 30 + $0) }
        var a = F.newWorker()
        var b = F.newWorker()
        a.reviews = oldBad
        b.reviews = oldGood
        #expect(grade(a).composite > grade(b).composite)
    }

    @Test("agency ratings decay too")
    func agencyRatingsDecay() {
        var old = F.newWorker()
        var recent = F.newWorker()
        old.agencyRatings = [.init(rating: 1, ratedOn: F.daysAgo(3000), sealed: true)]
        recent.agencyRatings = [.init(rating: 1, ratedOn: F.daysAgo(10), sealed: true)]
        #expect(grade(old).composite > grade(recent).composite)
    }

    @Test("weight halves every half-life; a future date weighs 1")
    func halfLife() {
        for (age, expected) in [(0, 1.0), (1095, 0.5), (2190, 0.25), (3285, 0.125), (-30, 1.0)] {
            var input = F.newWorker()
            input.reviews = [F.review(3, daysAgo: age)]
            let evidence = grade(input).computation.ethics.reviewsAndRatings.evidence[0]
            #expect(abs(evidence.decay - expected) < 1e-12, "age \(age): \(evidence.decay)")
        }
        #expect(GradingMath.decay(ageDays: 365, halfLifeDays: 730) == GradingMath.exp2(-0.5))
    }

    @Test("2^x is computed accurately without the C library")
    func exp2() {
        let known: [(Double, Double)] = [
            (0, 1), (-1, 0.5), (-10, 1.0 / 1024), (-0.5, 0.7071067811865476), (-1.5, 0.3535533905932738),
            (-0.1, 0.9330329915368074), (-3.7, 0.07694652583405726), (2.5, 5.656854249492381),
        ]
        for (x, y) in known {
            #expect(abs(GradingMath.exp2(x) - y) <= 4 * y.ulp, "2^\(x) = \(GradingMath.exp2(x)), expected \(y)")
        }
        #expect(GradingMath.exp2(-5000) == 0)
    }
}

@Suite("Grader: flags")
struct GradingFlagTests {
    @Test("each flag category takes its penalty off the ethics score, and shows as its reason", arguments: FlagCategory.allCases)
    func penalty(category: FlagCategory) {
        let policy = F.policy()
        let base = grade(F.goodWorker())
        var input = F.goodWorker()
        input.flags = [F.flag(category, .convicted, severity: 3)]
        let r = grade(input)
        let penalty = policy.ethics.flags.penalties[category.rawValue]!
        #expect(penalty > 0)
        #expect(abs((base.computation.ethics.score - r.computation.ethics.score) - penalty) < 1e-9)
        #expect(abs((base.computation.composite.value - r.computation.composite.value) - 0.65 * penalty) < 1e-9)
        let contribution = r.computation.contributions.first { $0.code == GradeReasonCode.flag(category) }
        #expect(contribution.map { abs($0.composite + 0.65 * penalty) < 1e-9 } == true)
        #expect(r.computation.ethics.flags.map(\.points) == [penalty])
        if penalty >= 25 {
            #expect(r.factors.first?.code == GradeReasonCode.flag(category), "\(r.factors.map(\.code))")
            #expect(r.factors.first?.params["count"] == "1")
        }
    }

    @Test("the categories are ordered by gravity: abuse worst, fare evasion least")
    func gravity() {
        let drops = FlagCategory.allCases.map { category -> (FlagCategory, Double) in
            var input = F.goodWorker()
            input.flags = [F.flag(category, .convicted, severity: 3)]
            return (category, grade(F.goodWorker()).composite - grade(input).composite)
        }
        let worst = drops.max { $0.1 < $1.1 }!.0
        let least = drops.min { $0.1 < $1.1 }!.0
        #expect(worst == .childOrElderAbuse)
        #expect(least == .fareEvasion)
    }

    @Test("retracted and expired flags count nothing; a flag on its expiry day still counts", arguments: FlagCategory.allCases)
    func retractedAndExpired(category: FlagCategory) {
        let base = grade(F.goodWorker())
        for flag in [F.flag(category, .retracted, severity: 5), F.flag(category, .convicted, severity: 5, daysAgo: 2000, expiresInDays: -1)] {
            var input = F.goodWorker()
            input.flags = [flag]
            let r = grade(input)
            #expect(r.composite == base.composite)
            #expect(r.grade == base.grade)
            #expect(r.reasons == base.reasons)
            #expect(r.computation.ethics.flags.first?.ignored == (flag.status == .retracted ? "retracted" : "expired"))
        }
        var input = F.goodWorker()
        input.flags = [F.flag(category, .convicted, severity: 5, daysAgo: 2000, expiresInDays: 0)]
        #expect(grade(input).composite < base.composite)
    }

    @Test("an allegation weighs less than a charge, a charge less than a conviction", arguments: FlagCategory.allCases)
    func statusOrder(category: FlagCategory) {
        func drop(_ status: FlagStatus) -> Double {
            var input = F.goodWorker()
            input.flags = [F.flag(category, status, severity: 3)]
            return grade(F.goodWorker()).computation.composite.value - grade(input).computation.composite.value
        }
        let alleged = drop(.alleged)
        let charged = drop(.charged)
        let convicted = drop(.convicted)
        let adjudicated = drop(.adjudicated)
        #expect(0 < alleged && alleged < charged && charged < convicted)
        #expect(adjudicated > charged)
        #expect(drop(.retracted) == 0)
    }

    @Test("a more severe flag weighs more")
    func severity() {
        let drops = (1...5).map { s -> Double in
            var input = F.goodWorker()
            input.flags = [F.flag(.theft, .charged, severity: s)]
            return grade(F.goodWorker()).computation.composite.value - grade(input).computation.composite.value
        }
        #expect(zip(drops, drops.dropFirst()).allSatisfy { $0 < $1 })
        #expect(abs(drops[2] - 0.65 * 45 * 0.5 * 1.0) < 1e-9)
    }

    @Test("penalties add up, and the ethics score stops at 0")
    func clampedAtZero() {
        var input = F.goodWorker()
        input.flags = [F.flag(.childOrElderAbuse, severity: 5), F.flag(.violentCrime, severity: 5), F.flag(.theft, severity: 5)]
        let r = grade(input)
        #expect(r.ethicsScore == 0)
        #expect(r.computation.ethics.raw < 0)
        #expect(r.grade == .d)
        let sum = r.computation.contributions.reduce(0) { $0 + $1.composite }
        #expect(abs(sum - (r.computation.composite.value - r.computation.baseline.composite)) < 1e-9)
    }

    @Test("an established record of abuse holds even an excellent worker at D; an allegation does not")
    func gradeCaps() {
        var excellent = F.goodWorker()
        excellent.assessments = [F.assessment(.nanny, 5)]
        excellent.qualifications = [F.certificate(.nanny), F.training(), F.training(), F.training()]
        excellent.reviews += (0..<10).map { F.review(5, daysAgo: 15 + 30 * $0) }
        #expect(grade(excellent).grade == .a)

        var convicted = excellent
        convicted.flags = [F.flag(.childOrElderAbuse, .convicted, severity: 1)]
        let c = grade(convicted)
        #expect(c.computation.composite.band.rank < CreditGrade.d.rank, "the band alone would not be D: \(c.composite)")
        #expect(c.grade == .d)
        #expect(c.statuses.first == .status(GradeReasonCode.flagGradeCap, ["category": "child_or_elder_abuse", "max_grade": "D"]))
        #expect(c.factors.first?.code == GradeReasonCode.flag(.childOrElderAbuse))

        var alleged = excellent
        alleged.flags = [F.flag(.childOrElderAbuse, .alleged, severity: 1)]
        #expect(grade(alleged).computation.composite.cappedAt == nil)

        var pettyTheft = excellent
        pettyTheft.flags = [F.flag(.theft, .convicted, severity: 2)]
        #expect(grade(pettyTheft).computation.composite.cappedAt == nil)
        pettyTheft.flags = [F.flag(.theft, .convicted, severity: 3)]
        #expect(grade(pettyTheft).grade.rank >= CreditGrade.c.rank)
    }
}

@Suite("Grader: REVOKED, suspension and notices")
struct GradingStatusTests {
    @Test("a barred worker is REVOKED whatever her record, and the ban is the first reason")
    func revokedOverrides() {
        var inputs = [F.goodWorker(), F.newWorker(), GradingInput(today: F.today)]
        inputs += F.randomInputs(count: 50).map {
            var i = $0
            i.barred = false
            return i
        }
        for var input in inputs {
            let free = grade(input)
            input.barred = true
            let r = grade(input)
            #expect(r.grade == .revoked)
            #expect(r.reasons.first == .status(GradeReasonCode.barred))
            #expect(r.statuses == [.status(GradeReasonCode.barred)])
            #expect(r.composite == free.composite)  // the scores are still recorded
        }
    }

    @Test("an interim suspension is a reason but does not change the scores")
    func suspension() {
        var input = F.goodWorker()
        let free = grade(input)
        input.suspended = true
        let r = grade(input)
        #expect(r.statuses.contains(.status(GradeReasonCode.interimSuspension)))
        #expect(r.composite == free.composite && r.grade == free.grade)
        #expect(r.factors == free.factors)
    }

    @Test("few records and no assessment are said")
    func notices() {
        let new = grade(F.newWorker())
        #expect(new.statuses.map(\.code) == [GradeReasonCode.limitedHistory, GradeReasonCode.skillNotAssessed])
        #expect(new.factors.isEmpty)
        #expect(new.composite == GradingMath.round2(new.computation.baseline.composite))
        let good = grade(F.goodWorker())
        #expect(good.statuses.isEmpty)
    }
}

@Suite("Grader: skill levels")
struct GradingSkillLevelTests {
    @Test("the latest assessment sets the level; `highest` takes the best ever")
    func latestAssessment() {
        var input = F.newWorker()
        input.assessments = [F.assessment(.nanny, 4, daysAgo: 700), F.assessment(.nanny, 2, daysAgo: 100), F.assessment(.cooking, 3)]
        #expect(grade(input).skillLevels == [.nanny: 2, .cooking: 3])
        var policy = F.policy()
        policy.skill.levels.rule = .highest
        #expect(grade(input, policy).skillLevels == [.nanny: 4, .cooking: 3])
    }

    @Test("a valid certificate raises the level to its minimum and confirms a stale assessment; an expired one does nothing")
    func certificates() {
        var input = F.newWorker()
        input.qualifications = [F.certificate(.elderCare)]
        #expect(grade(input).skillLevels == [.elderCare: 2])
        input.assessments = [F.assessment(.elderCare, 1)]
        #expect(grade(input).skillLevels == [.elderCare: 2])
        input.assessments = [F.assessment(.elderCare, 4, daysAgo: 2500)]  // stale
        #expect(grade(input).skillLevels == [.elderCare: 4])
        input.qualifications = [F.certificate(.elderCare, issuedDaysAgo: 2000, expiresInDays: -10)]
        #expect(grade(input).skillLevels == [.elderCare: 3])
        input.qualifications = [F.certificate(.nanny)]  // another category does not confirm
        let r = grade(input)
        #expect(r.skillLevels == [.elderCare: 3, .nanny: 2])
        #expect(r.computation.skill.levels.first { $0.category == .elderCare }?.staleDrop == 1)
    }

    @Test("reviews in a category's dimensions nudge its level by one step, within 1-5")
    func reviewNudge() {
        var input = F.newWorker()
        input.assessments = [F.assessment(.elderCare, 3), F.assessment(.cooking, 3)]
        input.reviews = (0..<12).map { F.review(5, daysAgo: 10 + 10 * $0, category: .elderCare, skillDimensions: ["eldercare", "cooking"]) }
        #expect(grade(input).skillLevels == [.elderCare: 4, .cooking: 3])  // the reviews were of elder care
        input.reviews = (0..<12).map { F.review(5, skill: 1, daysAgo: 10 + 10 * $0, skillDimensions: ["eldercare"]) }
        #expect(grade(input).skillLevels == [.elderCare: 2, .cooking: 3])
        input.assessments = [F.assessment(.elderCare, 1)]
        #expect(grade(input).skillLevels == [.elderCare: 1])
        input.assessments = [F.assessment(.elderCare, 5)]
        input.reviews = (0..<12).map { F.review(5, daysAgo: 10 + 10 * $0, skillDimensions: ["eldercare"]) }
        #expect(grade(input).skillLevels == [.elderCare: 5])
        // Two excellent reviews are not enough to nudge (shrinkage).
        input.assessments = [F.assessment(.elderCare, 3)]
        input.reviews = (0..<2).map { F.review(5, daysAgo: 10 + 10 * $0, skillDimensions: ["eldercare"]) }
        #expect(grade(input).skillLevels == [.elderCare: 3])
    }

    @Test("the best level gives the skill points, and the skill_level reason names it")
    func bestLevel() {
        var input = F.newWorker()
        input.assessments = [F.assessment(.nanny, 2), F.assessment(.elderCare, 4)]
        let r = grade(input)
        #expect(r.computation.skill.levelPoints == 88)
        let reason = r.factors.first { $0.code == GradeReasonCode.skillLevel }
        #expect(reason?.params == ["category": "elder_care", "level": "4"])
        #expect(reason?.contribution == GradingMath.round2(0.35 * 0.6 * (88 - 45)))
    }

    @Test("trainings add points up to a cap; no valid health certificate, restricted or unfit take points off")
    func trainingsAndHealth() {
        let base = grade(F.newWorker())
        var input = F.newWorker()
        input.qualifications = [F.training(), F.training(), F.training(), F.training(), F.training(issuedDaysAgo: 900, expiresInDays: -1)]
        let t = grade(input)
        #expect(t.computation.skill.trainingsCounted == 4)
        #expect(t.computation.skill.trainingPoints == 6)
        #expect(abs(t.computation.skill.score - base.computation.skill.score - 6) < 1e-9)
        for (certificates, penalty, code) in [
            ([GradingInput.HealthCertificate](), 8.0, GradeReasonCode.healthMissing),
            ([.init(issuedOn: F.daysAgo(500), validUntil: F.daysAgo(135), result: .fit)], 8, GradeReasonCode.healthMissing),
            ([.init(issuedOn: F.daysAgo(20), validUntil: F.today.adding(days: 300), result: .restricted)], 4, GradeReasonCode.healthRestricted),
            ([F.fitHealth, .init(issuedOn: F.daysAgo(20), validUntil: F.today.adding(days: 300), result: .unfit)], 25, GradeReasonCode.healthUnfit),
        ] {
            var h = F.newWorker()
            h.healthCertificates = certificates
            let r = grade(h)
            #expect(abs(base.computation.skill.score - r.computation.skill.score - penalty) < 1e-9, "\(code)")
            #expect(r.factors.first?.code == code)
        }
    }
}

@Suite("Grader: reasons are the true top factors")
struct GradingReasonTests {
    @Test("contributions add up to composite − baseline, and the listed factors are the largest, in order")
    func trueTopFactors() {
        for policy in [F.policy(), F.policy(maxFactors: 2), F.policy(ethicsWeight: 0.7, skillWeight: 0.3)] {
            for input in F.randomInputs(count: 400, seed: 7) {
                let r = grade(input, policy)
                let c = r.computation
                let sum = c.contributions.reduce(0) { $0 + $1.composite }
                #expect(abs(sum - (c.composite.value - c.baseline.composite)) < 1e-9)
                let sortedAbs = c.contributions.map { abs($0.composite) }
                #expect(zip(sortedAbs, sortedAbs.dropFirst()).allSatisfy { $0 >= $1 })
                let expected = c.contributions.filter { GradingMath.round2($0.composite) != 0 }.prefix(policy.reasons.maxFactors)
                #expect(r.factors.map(\.code) == expected.map(\.code))
                #expect(r.factors.map(\.contribution) == expected.map { GradingMath.round2($0.composite) })
                for f in r.factors {
                    #expect(f.code.hasSuffix("_high") ? f.contribution! > 0 : true)
                    #expect(f.code.hasSuffix("_low") ? f.contribution! < 0 : true)
                }
                // Statuses first, then factors.
                #expect(r.reasons == r.statuses + r.factors)
                // Every code has texts.
                for reason in r.reasons { #expect(policy.reasons.texts[reason.code] != nil, "\(reason.code)") }
            }
        }
    }

    @Test("a factor's contribution is what removing it would change")
    func leaveOneOut() {
        var input = F.goodWorker()
        input.flags = [F.flag(.fraud, .charged, severity: 4)]
        input.qualifications = [F.training()]
        let r = grade(input)
        func contribution(_ code: String) -> Double { r.computation.contributions.first { $0.code == code }!.composite }
        var noFlag = input
        noFlag.flags = []
        #expect(abs(contribution(GradeReasonCode.flag(.fraud)) - (r.computation.composite.value - grade(noFlag).computation.composite.value)) < 1e-9)
        var noTraining = input
        noTraining.qualifications = []
        #expect(abs(contribution(GradeReasonCode.trainings) - (r.computation.composite.value - grade(noTraining).computation.composite.value)) < 1e-9)
        var noAssessment = input
        noAssessment.assessments = []
        #expect(
            abs(contribution(GradeReasonCode.skillLevel) - (r.computation.composite.value - grade(noAssessment).computation.composite.value)) < 1e-9
        )
    }

    @Test("review factors name the dimension that moved them most")
    func reviewDimension() {
        var input = F.newWorker()
        input.reviews = (0..<4).map { _ in
            GradingInput.Review(reviewedOn: F.daysAgo(10), skill: ["quality": 4], ethics: ["honesty": 4, "respect": 4, "reliability": 1, "care": 4])
        }
        let r = grade(input)
        let reason = r.factors.first { $0.code == GradeReasonCode.reviewsEthicsLow }
        #expect(reason?.params["dimension"] == "reliability")
        #expect(reason?.params["count"] == "4")
        let dims = r.computation.contributions.first { $0.code == GradeReasonCode.reviewsEthicsLow }?.dimensions
        #expect(dims?["reliability"].map { $0 < 0 } == true)
        #expect(dims?["honesty"] == 0)
    }

    @Test("scores outside 1-5 and unknown dimensions are ignored")
    func invalidScores() {
        var a = F.newWorker()
        var b = F.newWorker()
        a.reviews = [GradingInput.Review(reviewedOn: F.daysAgo(1), skill: ["quality": 4], ethics: ["honesty": 5])]
        b.reviews = [
            GradingInput.Review(reviewedOn: F.daysAgo(1), skill: ["quality": 4, "dancing": 1], ethics: ["honesty": 5, "respect": 0, "care": 9])
        ]
        #expect(grade(a) == grade(b))
    }
}

@Suite("Grader: policy changes and determinism")
struct GradingPolicyChangeTests {
    @Test("a different weight or version changes the result and the recorded version")
    func policyChange() throws {
        let input = F.goodWorker()
        let before = grade(input)
        #expect(before.policyVersion == "test.1" && before.computation.policyVersion == "test.1")
        let reweighted = grade(input, F.policy(version: "test.2", ethicsWeight: 0.8, skillWeight: 0.2))
        #expect(reweighted.policyVersion == "test.2" && reweighted.computation.policyVersion == "test.2")
        #expect(reweighted.composite != before.composite)
        let rebanded = grade(input, F.policy(version: "test.3", bands: [95, 90, 85, 0]))
        #expect(rebanded.grade != before.grade)
        #expect(rebanded.policyVersion == "test.3")
        let slower = grade(input, F.policy(version: "test.4", halfLifeDays: 90))
        #expect(slower.composite != before.composite)
    }

    @Test("the same records in any order give the same result")
    func deterministic() {
        var rng = SplitMix64(seed: 99)
        for input in F.randomInputs(count: 200, seed: 3) {
            let r = grade(input)
            var shuffled = input
            shuffled.reviews = rng.shuffle(input.reviews)
            shuffled.flags = rng.shuffle(input.flags)
            shuffled.assessments = rng.shuffle(input.assessments)
            shuffled.qualifications = rng.shuffle(input.qualifications)
            shuffled.agencyRatings = rng.shuffle(input.agencyRatings)
            shuffled.healthCertificates = rng.shuffle(input.healthCertificates)
            #expect(grade(shuffled) == r)
            #expect(grade(input) == r)
        }
    }
}

@Suite("Grading values encode as stored")
struct GradingCodingTests {
    @Test("a grade round-trips through JSON with skill levels keyed by category name")
    func resultJSON() throws {
        var input = F.goodWorker()
        input.flags = [F.flag(.debtDefault, .adjudicated, severity: 2)]
        let r = grade(input)
        let data = try JSONEncoder().encode(r)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["skill_levels"] as? [String: Int] == ["nanny": 3])
        #expect(object["policy_version"] as? String == "test.1")
        #expect((object["reasons"] as? [[String: Any]])?.first?["code"] as? String == GradeReasonCode.skillLevel)
        #expect(try JSONDecoder().decode(GradeResult.self, from: data) == r)
    }

    @Test("the policy decodes from its file's shape (JSON here) and validates")
    func policyJSON() throws {
        let policy = F.policy()
        let data = try JSONEncoder().encode(policy)
        let decoded = try JSONDecoder().decode(GradingPolicy.self, from: data)
        #expect(decoded == policy)
        try decoded.validate()
    }

    @Test("example inputs decode with every list optional")
    func inputJSON() throws {
        let json = #"{"today": "2026-06-01", "reviews": [{"reviewed_on": "2026-05-01", "ethics": {"honesty": 5}}], "barred": true}"#
        let input = try JSONDecoder().decode(GradingInput.self, from: Data(json.utf8))
        #expect(input.reviews.count == 1 && input.reviews[0].skill.isEmpty && input.flags.isEmpty && input.barred && !input.suspended)
    }
}

@Suite("Grade explanations and history")
struct GradingExplanationTests {
    @Test("each reason is explained in the worker's language, with the dimension's detail")
    func explanations() {
        let policy = F.policy()
        var input = F.newWorker()
        input.reviews = (0..<3).map { _ in
            GradingInput.Review(reviewedOn: F.daysAgo(10), ethics: ["honesty": 4, "respect": 1, "reliability": 4, "care": 4])
        }
        let r = grade(input, policy)
        let zh = policy.explanations(for: r, language: "zh-CN")
        #expect(zh.count == r.reasons.count)
        let low = zh.first { $0.code == GradeReasonCode.reviewsEthicsLow }
        #expect(low?.text == "说明 reviews_ethics_low")
        #expect(low?.improve == "改进 reviews_ethics_low")
        #expect(low?.detail?.text == "说明 review_respect_low")
        let en = policy.explanations(for: r, language: "en-GB")
        #expect(en.first { $0.code == GradeReasonCode.reviewsEthicsLow }?.text == "Text reviews_ethics_low")
        #expect(GradingPolicy.language(for: "zh") == "zh-CN")
        #expect(GradingPolicy.language(for: "fr") == "zh-CN")
        #expect(policy.explain(.status("retired_code"), language: "en").text == "retired_code")
    }

    @Test("a change of grade is kept with what moved it; a move within the band is not")
    func history() {
        let good = grade(F.goodWorker())
        let first = GradeChange.between(previous: nil, current: good, cause: "review")
        #expect(first?.fromGrade == nil && first?.toGrade == good.grade && first?.movers == [])

        var more = F.goodWorker()
        more.reviews.append(F.review(4, daysAgo: 1))
        #expect(grade(more).grade == good.grade)
        #expect(GradeChange.between(previous: GradeSnapshot(good), current: grade(more), cause: "review") == nil)

        var flagged = F.goodWorker()
        flagged.flags = [F.flag(.theft, .convicted, severity: 3)]
        let theft = grade(flagged)
        let change = GradeChange.between(previous: GradeSnapshot(good), current: theft, cause: "flag")
        #expect(change?.fromGrade == good.grade && change?.toGrade == theft.grade)
        #expect(change?.cause == "flag" && change?.policyChanged == false)
        #expect(change?.movers.first?.factor == "flag_theft")
        #expect(change?.movers.first.map { $0.before == 0 && $0.change < 0 } == true)

        let regraded = grade(F.goodWorker(), F.policy(version: "test.9", bands: [95, 90, 85, 0]))
        let policyChange = GradeChange.between(previous: GradeSnapshot(good), current: regraded, cause: "regrade")
        #expect(policyChange?.policyChanged == true && policyChange?.policyVersion == "test.9")
        #expect(GradeChange.factor(of: "reviews_ethics_low") == "reviews_ethics")
    }
}
