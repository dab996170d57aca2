import Foundation
import RegistryDomain
import RegistryServices
import Testing

/// The shipped `Policies/grading.yaml`, read through the loader.
@Suite("Grading policy file")
struct GradingPolicyFileTests {
    static let policiesDirectory = repositoryRoot + "/Policies"

    func shippedText() throws -> String {
        try String(contentsOfFile: Self.policiesDirectory + "/grading.yaml", encoding: .utf8)
    }

    /// Writes `text` as grading.yaml in a fresh folder and loads it.
    func load(_ text: String) throws -> GradingPolicy {
        let dir = NSTemporaryDirectory() + "grading-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try text.write(toFile: dir + "/grading.yaml", atomically: true, encoding: .utf8)
        return try loadGradingPolicy(directory: dir)
    }

    /// 1-based line of the first line containing `needle`.
    func line(of needle: String, in text: String) -> Int? {
        text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(needle) }.map { $0 + 1 }
    }

    @Test("the shipped policy loads: versioned, ethics weighs more, every reason code has both texts")
    func shipped() throws {
        let policy = try loadGradingPolicy(directory: Self.policiesDirectory)
        #expect(!policy.version.isEmpty)
        #expect(policy.composite.ethicsWeight > policy.composite.skillWeight)
        #expect(policy.bands.map(\.grade) == [.a, .b, .c, .d])
        for code in policy.reasonCodes {
            for language in GradingPolicy.languages {
                #expect(policy.reasons.texts[code]?[language]?.text.isEmpty == false, "\(code) \(language)")
                #expect(policy.reasons.texts[code]?[language]?.improve.isEmpty == false, "\(code) \(language)")
            }
        }
        #expect(policy.examples.count >= 10)
    }

    @Test("every example in Policies/grading.yaml gets the grade it expects")
    func examples() throws {
        let policy = try loadGradingPolicy(directory: Self.policiesDirectory)
        let grader = try Grader(policy: policy)
        for example in policy.examples {
            let result = grader.grade(example.input)
            #expect(example.mismatch(result) == nil, "\(example.name): \(example.mismatch(result) ?? "")")
            #expect(result.grade == example.expect.grade, "\(example.name)")
            #expect(result.policyVersion == policy.version)
        }
    }

    @Test("the shipped examples cover every grade")
    func examplesCoverEveryGrade() throws {
        let policy = try loadGradingPolicy(directory: Self.policiesDirectory)
        #expect(Set(policy.examples.map(\.expect.grade)) == Set(CreditGrade.allCases))
    }

    @Test("the shipped review dimensions match those reviews are scored in")
    func dimensionsMatchReports() throws {
        let policy = try loadGradingPolicy(directory: Self.policiesDirectory)
        let reports = ReportPolicy()
        try policy.checkDimensions(skill: reports.reviewDimensions.skill, ethics: reports.reviewDimensions.ethics)
    }

    @Test("a changed weight and version change the grades and the recorded version")
    func policyChange() throws {
        let policy = try loadGradingPolicy(directory: Self.policiesDirectory)
        var changed = policy
        changed.version = policy.version + "-test"
        changed.composite = .init(ethicsWeight: 0.8, skillWeight: 0.2)
        changed.examples = []
        try changed.validate()
        let before = try Grader(policy: policy)
        let after = try Grader(policy: changed)
        var moved = 0
        for example in policy.examples {
            let a = before.grade(example.input)
            let b = after.grade(example.input)
            #expect(a.policyVersion == policy.version)
            #expect(b.policyVersion == changed.version)
            #expect(b.computation.policyVersion == changed.version)
            if a.composite != b.composite { moved += 1 }
        }
        #expect(moved > 0)
    }

    @Test(
        "a bad grading policy names the file, the line and the problem",
        arguments: [
            // (replace, with, line containing, problem)
            (
                "  ethics_weight: 0.65\n  skill_weight: 0.35", "  ethics_weight: 0.35\n  skill_weight: 0.65", "  ethics_weight: 0.35",
                "ethics must weigh more than skill"
            ),
            ("  ethics_weight: 0.65", "  ethics_weight: 0.6", "composite:", "add up to 1"),
            ("      fare_evasion: 5\n", "      Jay-walking: 5\n", "Jay-walking: 5", "lowercase letters"),
            ("      adjudicated: 1.0\n", "      adjudicated: 1.0\n      retracted: 0.1\n", "retracted: 0.1", "retracted flags always count nothing"),
            ("      alleged: 0.2\n", "      alleged: 0.9\n", "    status_factors:", "an allegation may not weigh more"),
            ("      alleged: 0.2\n", "      suspected: 0.2\n", "suspected: 0.2", "unknown flag status 'suspected'"),
            ("  - {grade: C, min: 50}", "  - {grade: C, min: 75}", "{grade: C, min: 75}", "thresholds must descend"),
            ("  half_life_days: 1095", "  half_life_days: 0", "half_life_days: 0", "more than 0 days"),
            (
                "    review_cooking_low:\n      zh-CN: {text: \"有雇主对您的烹饪评价偏低，降低了您的等级。\", improve: \"了解雇主家庭的口味；可参加烹饪培训。\"}\n",
                "    review_cooking_low:\n", "    review_cooking_low:", "has no zh-CN text"
            ),
            (
                "    flag_fare_evasion:\n",
                "    flag_jaywalking:\n      zh-CN: {text: \"x\", improve: \"y\"}\n      en: {text: \"x\", improve: \"y\"}\n    flag_fare_evasion:\n",
                "flag_jaywalking:", "not a reason code the grader gives"
            ),
            ("        max_grade: D\n", "        max_grade: REVOKED\n", "max_grade: REVOKED", "a flag cannot revoke"),
            (
                "    elder_care: {review_dimensions: [eldercare]", "    elder_care: {review_dimensions: [elder_care]",
                "elder_care: {review_dimensions: [elder_care]",
                "'elder_care' is not one of skill.review_dimensions"
            ),
            (
                "  level_points: [45, 52, 62, 75, 88, 100]", "  level_points: [45, 52, 62, 75, 88]", "level_points: [45, 52",
                "needs six values"
            ),
            (
                "    expect: {grade: B, composite_between: [70, 73], top_factor: skill_level}",
                "    expect: {grade: A, composite_between: [70, 73], top_factor: skill_level}",
                "    expect: {grade: A, composite_between: [70, 73]", "expected grade A, got B"
            ),
            (
                "      - {category: theft, severity: 3, status: convicted", "      - {category: shoplifting, severity: 3, status: convicted",
                "category: shoplifting", "shoplifting"
            ),
        ]
    )
    func badPolicy(replace: String, with: String, lineOf: String, problem: String) throws {
        let shipped = try shippedText()
        #expect(shipped.contains(replace), "the shipped file no longer contains: \(replace)")
        let text = shipped.replacingOccurrences(of: replace, with: with)
        let error = #expect(throws: PolicyLoadError.self) { try load(text) }
        #expect(error?.file.hasSuffix("grading.yaml") == true)
        #expect(error?.line == line(of: lineOf, in: text), "\(String(describing: error))")
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
    }
}
