import Foundation
import Testing

@testable import RegistryDomain

private typealias F = GradingFixtures

@Suite("Grades: the stored JSON texts")
struct GradeJSONTests {
    static let sorted: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    @Test("skill levels and reasons read back exactly as their Codable forms")
    func sameAsCodable() throws {
        for input in F.randomInputs(count: 300) {
            let result = F.grader(F.policy()).grade(input)
            let reasons = try JSONDecoder().decode([GradeReason].self, from: Data(result.reasonsJSON.utf8))
            #expect(reasons == result.reasons)
            let levels = try JSONDecoder().decode([String: Int].self, from: Data(result.skillLevelsJSON.utf8))
            #expect(levels == result.skillLevelsByName)
            // The same text as the encoder's for the levels (sorted keys, no spaces).
            #expect(result.skillLevelsJSON == String(decoding: try Self.sorted.encode(result.skillLevelsByName), as: UTF8.self))
        }
    }

    @Test("the stored computation is small and keeps the totals and every factor's composite points")
    func compactComputation() throws {
        for input in F.randomInputs(count: 200) {
            let result = F.grader(F.policy()).grade(input)
            let text = result.computationJSON
            let stored = try JSONDecoder().decode(Stored.self, from: Data(text.utf8))
            #expect(stored.policy_version == result.policyVersion)
            #expect(stored.composite.grade == result.grade.rawValue)
            #expect(stored.composite.value == result.computation.composite.value)
            #expect(stored.ethics.score == result.computation.ethics.score && stored.skill.score == result.computation.skill.score)
            #expect(stored.contributions.count == result.computation.contributions.count)
            for c in result.computation.contributions { #expect(stored.contributions[c.code] == c.composite) }
            let full = try Self.sorted.encode(result.computation.withoutEvidence)
            #expect(text.utf8.count < full.count / 2)
        }
    }

    struct Stored: Decodable {
        struct Part: Decodable { var score: Double }
        struct Composite: Decodable {
            var value: Double
            var grade: String
        }
        var policy_version: String
        var ethics: Part
        var skill: Part
        var composite: Composite
        var contributions: [String: Double]
    }

    @Test("a history entry reads back exactly as its Codable form, first grades and changes alike")
    func historyEntry() throws {
        let inputs = F.randomInputs(count: 200)
        let results = inputs.map { F.grader(F.policy()).grade($0) }
        let others = inputs.map { F.grader(F.policy(version: "test.2", ethicsWeight: 0.8, skillWeight: 0.2)).grade($0) }
        var changes = 0
        for (before, after) in zip(results, others) {
            for change in [
                GradeChange.between(previous: nil, current: before, cause: "registered"),
                GradeChange.between(previous: GradeSnapshot(before), current: after, cause: "policy_test.2"),
            ].compactMap({ $0 }) {
                changes += 1
                let read = try JSONDecoder().decode(GradeChange.self, from: Data(change.json.utf8))
                #expect(read == change)
                let encoded = try JSONSerialization.jsonObject(with: try Self.sorted.encode(change)) as? [String: Any]
                let written = try JSONSerialization.jsonObject(with: Data(change.json.utf8)) as? [String: Any]
                #expect(encoded.map { Set($0.keys) } == written.map { Set($0.keys) })
            }
        }
        #expect(changes > 200)
    }

    @Test("strings are escaped")
    func escaping() throws {
        let reason = GradeReason(code: "x", kind: .status, params: ["q": "a \"b\" \\ c\n\u{1}é"])
        var out = GradeJSON()
        reason.write(to: &out)
        #expect(try JSONDecoder().decode(GradeReason.self, from: Data(out.text.utf8)) == reason)
    }
}
