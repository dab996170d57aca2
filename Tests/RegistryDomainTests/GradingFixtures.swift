@testable import RegistryDomain

/// Policies and inputs for the grading tests, built in Swift (the shipped YAML is tested in
/// RegistryIntegrationTests/GradingPolicyFileTests). The numbers mirror Policies/grading.yaml
/// 2026.1 so the scenarios read the same, but these tests do not change when the file is tuned.
enum GradingFixtures {
    static let today = CivilDate(iso: "2026-06-01")!

    static func daysAgo(_ n: Int) -> CivilDate { today.adding(days: -n) }

    static let ethicsDimensions = ["honesty", "respect", "reliability", "care"]
    static let skillDimensions = ["punctuality", "quality", "childcare", "eldercare", "cooking"]

    static func policy(
        version: String = "test.1",
        ethicsWeight: Double = 0.65,
        skillWeight: Double = 0.35,
        bands: [Double] = [87, 70, 50, 0],
        priorWeight: Double = 6,
        halfLifeDays: Double = 1095,
        ethicsPrior: Double = 4.0,
        skillPrior: Double = 3.8,
        gradeCaps: [GradingPolicy.GradeCap]? = nil,
        maxFactors: Int = 4
    ) -> GradingPolicy {
        var policy = GradingPolicy(
            version: version,
            composite: .init(ethicsWeight: ethicsWeight, skillWeight: skillWeight),
            bands: zip(CreditGrade.bands, bands).map { GradingPolicy.Band(grade: $0, min: $1) },
            shrinkage: .init(priorWeight: priorWeight),
            decay: .init(halfLifeDays: halfLifeDays),
            ethics: .init(
                priorMean: ethicsPrior,
                reviewDimensions: Dictionary(uniqueKeysWithValues: ethicsDimensions.map { ($0, 1.0) }),
                agencyRatings: .init(sealedWeight: 2, openWeight: 1),
                flags: .init(
                    penalties: [
                        "child_or_elder_abuse": 70, "violent_crime": 55, "theft": 45, "fraud": 35, "drug_offence": 30,
                        "loan_fraud": 25, "debt_default": 12, "fare_evasion": 5,
                    ],
                    statusFactors: ["alleged": 0.2, "charged": 0.5, "convicted": 1.0, "adjudicated": 1.0],
                    severityFactors: [0.6, 0.8, 1.0, 1.2, 1.4],
                    gradeCaps: gradeCaps ?? [
                        .init(
                            categories: ["child_or_elder_abuse", "violent_crime"],
                            statuses: ["convicted", "adjudicated"],
                            minSeverity: 1,
                            maxGrade: .d
                        ),
                        .init(categories: ["theft", "fraud"], statuses: ["convicted", "adjudicated"], minSeverity: 3, maxGrade: .c),
                    ]
                )
            ),
            skill: .init(
                priorMean: skillPrior,
                levelWeight: 0.6,
                reviewWeight: 0.4,
                levelPoints: [45, 52, 62, 75, 88, 100],
                reviewDimensions: Dictionary(uniqueKeysWithValues: skillDimensions.map { ($0, 1.0) }),
                levels: .init(rule: .latest, staleAfterDays: 1825, staleDrop: 1, reviewNudge: .init(upAt: 4.5, downAt: 2.5, maxSteps: 1)),
                categories: [
                    "nanny": .init(reviewDimensions: ["childcare"], certificateMinimumLevel: 2),
                    "maternity": .init(reviewDimensions: ["childcare"], certificateMinimumLevel: 2),
                    "elder_care": .init(reviewDimensions: ["eldercare"], certificateMinimumLevel: 2),
                    "patient_care": .init(reviewDimensions: ["eldercare"], certificateMinimumLevel: 2),
                    "housekeeping": .init(reviewDimensions: ["quality"], certificateMinimumLevel: 1),
                    "cooking": .init(reviewDimensions: ["cooking"], certificateMinimumLevel: 1),
                ],
                trainings: .init(pointsEach: 2, maxPoints: 6),
                health: .init(missing: 8, restricted: 4, unfit: 25)
            ),
            reasons: .init(maxFactors: maxFactors, limitedHistoryBelow: 3, texts: [:])
        )
        policy.reasons.texts = texts(for: policy.reasonCodes)
        return policy
    }

    static func texts(for codes: [String]) -> [String: [String: GradingPolicy.ReasonText]] {
        Dictionary(
            uniqueKeysWithValues: codes.map { code in
                (
                    code,
                    [
                        "zh-CN": .init(text: "说明 \(code)", improve: "改进 \(code)"),
                        "en": .init(text: "Text \(code)", improve: "Improve \(code)"),
                    ]
                )
            }
        )
    }

    static func grader(_ policy: GradingPolicy = policy()) -> Grader {
        try! Grader(policy: policy)
    }

    static let fitHealth = GradingInput.HealthCertificate(issuedOn: daysAgo(100), validUntil: today.adding(days: 265), result: .fit)

    /// A review scoring every ethics dimension `ethics` and punctuality and quality `skill`.
    static func review(
        _ ethics: Int,
        skill: Int? = nil,
        daysAgo age: Int = 10,
        category: ServiceCategory? = nil,
        skillDimensions: [String] = ["punctuality", "quality"]
    ) -> GradingInput.Review {
        GradingInput.Review(
            reviewedOn: daysAgo(age),
            category: category,
            skill: Dictionary(uniqueKeysWithValues: skillDimensions.map { ($0, skill ?? ethics) }),
            ethics: Dictionary(uniqueKeysWithValues: ethicsDimensions.map { ($0, ethics) })
        )
    }

    static func assessment(_ category: ServiceCategory, _ level: Int, daysAgo age: Int = 200) -> GradingInput.SkillAssessment {
        .init(category: category, level: level, assessedOn: daysAgo(age))
    }

    static func certificate(_ category: ServiceCategory, issuedDaysAgo: Int = 400, expiresInDays: Int? = 1000) -> GradingInput.Qualification {
        .init(kind: .certificate, category: category, issuedOn: daysAgo(issuedDaysAgo), expiresOn: expiresInDays.map { today.adding(days: $0) })
    }

    static func training(issuedDaysAgo: Int = 100, expiresInDays: Int? = nil) -> GradingInput.Qualification {
        .init(kind: .training, category: nil, issuedOn: daysAgo(issuedDaysAgo), expiresOn: expiresInDays.map { today.adding(days: $0) })
    }

    static func flag(
        _ category: FlagCategory,
        _ status: FlagStatus = .convicted,
        severity: Int = 3,
        daysAgo age: Int = 100,
        expiresInDays: Int? = nil
    ) -> GradingInput.Flag {
        .init(
            category: category,
            severity: severity,
            status: status,
            occurredOn: daysAgo(age),
            expiresOn: expiresInDays.map { today.adding(days: $0) }
        )
    }

    /// A worker with a health certificate and nothing else (the baseline of contributions).
    static func newWorker() -> GradingInput { GradingInput(today: today, healthCertificates: [fitHealth]) }

    /// An established, good worker: level 3 nanny, five good reviews over a year, a sealed agency rating.
    static func goodWorker() -> GradingInput {
        GradingInput(
            today: today,
            assessments: [assessment(.nanny, 3)],
            healthCertificates: [fitHealth],
            reviews: [
                review(5, skill: 4, daysAgo: 30), review(4, daysAgo: 90), review(5, skill: 4, daysAgo: 150),
                review(4, daysAgo: 250), review(5, skill: 4, daysAgo: 330),
            ],
            agencyRatings: [.init(rating: 4, ratedOn: daysAgo(120), sealed: true)]
        )
    }

    /// Deterministic pseudo-random inputs covering every kind of record.
    static func randomInputs(count: Int, seed: UInt64 = 42) -> [GradingInput] {
        var rng = SplitMix64(seed: seed)
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(rng.next() % UInt64(r.count)) }
        return (0..<count).map { _ in
            var input = GradingInput(today: today)
            for _ in 0..<int(0...3) { input.assessments.append(assessment(pick(ServiceCategory.allCases), int(1...5), daysAgo: int(0...3000))) }
            for _ in 0..<int(0...2) {
                input.qualifications.append(
                    .init(
                        kind: pick(QualificationKind.allCases),
                        category: pick([nil] + ServiceCategory.allCases.map { $0 }),
                        issuedOn: daysAgo(int(0...2000)),
                        expiresOn: pick([nil, today.adding(days: int(-500...500))])
                    )
                )
            }
            for _ in 0..<int(0...1) {
                input.healthCertificates.append(
                    .init(
                        issuedOn: daysAgo(int(0...700)),
                        validUntil: today.adding(days: int(-200...400)),
                        result: pick(HealthResult.allCases)
                    )
                )
            }
            for _ in 0..<int(0...12) {
                var r = GradingInput.Review(reviewedOn: daysAgo(int(-5...4000)), category: pick([nil] + ServiceCategory.allCases.map { $0 }))
                for d in ethicsDimensions where int(0...5) > 0 { r.ethics[d] = int(1...5) }
                for d in skillDimensions where int(0...2) > 0 { r.skill[d] = int(1...5) }
                if int(0...20) == 0 { r.ethics["honesty"] = 9 }  // out of range: ignored
                input.reviews.append(r)
            }
            for _ in 0..<int(0...2) {
                input.agencyRatings.append(.init(rating: int(1...5), ratedOn: daysAgo(int(0...3000)), sealed: int(0...1) == 1))
            }
            for _ in 0..<int(0...2) where int(0...2) == 0 {
                input.flags.append(
                    flag(
                        pick(FlagCategory.allCases),
                        pick(FlagStatus.allCases),
                        severity: int(1...5),
                        daysAgo: int(0...3000),
                        expiresInDays: pick([nil, int(-1000...1000)])
                    )
                )
            }
            input.barred = int(0...30) == 0
            input.suspended = int(0...20) == 0
            return input
        }
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func shuffle<T>(_ items: [T]) -> [T] {
        var a = items
        guard a.count > 1 else { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
        return a
    }
}
