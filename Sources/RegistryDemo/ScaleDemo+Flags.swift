import Foundation
import Logging
import NIOCore
import RegistryDomain
import RegistryServices
import RegistryStorage

extension ScaleDemo {
    /// A flag whose policy effect (suspension, system-opened case) must be applied.
    struct Consequential: Sendable {
        var police: Bool
        var reference: String
        var body: UInt64
    }

    static let flagBatch = 20_000

    /// Flags from the two sources, as their feeds would send them: each line validated
    /// (`FlagSubmission`) and turned into its stored row by `FlagService.row` (blind index, sealed
    /// narrative, content hash), streamed with COPY into a staging table and matched to files
    /// through the blind index. Most concern a minority of workers; a few concern people without
    /// a file. Flags that policy says suspend a worker or open a case then take the normal path.
    func insertFlags(_ plan: Plan, identities: Identities, report: @escaping @Sendable (Int) -> Void) async throws -> [String: Int] {
        let police = options.flags / 10
        let ranges =
            Self.flagBatches(0..<police, batch: Self.flagBatch).map { ($0, true) }
            + Self.flagBatches(police..<options.flags, batch: Self.flagBatch).map { ($0, false) }
        let known = Set(identities.bodies)
        let results = try await parallel(ranges.count) { i in
            let (range, isPolice) = ranges[i]
            let result = try await flagBatch(range, police: isPolice, batch: i, plan: plan, identities: identities, known: known)
            report(range.count)
            return result
        }
        let matched = results.reduce(0) { $0 + $1.matched }
        var consequential = results.flatMap(\.consequential)
        // One worker's flags in one transaction: no two transactions lock the same worker.
        consequential.sort { $0.body < $1.body }
        var chunks: [[Consequential]] = []
        for c in consequential {
            if let last = chunks.last?.last, last.body == c.body || chunks.last!.count < 100 {
                chunks[chunks.count - 1].append(c)
            } else {
                chunks.append([c])
            }
        }
        let groups = chunks
        _ = try await parallel(groups.count) { i in
            let chunk = groups[i]
            try await database.transaction(logger: logger) { connection in
                var ids: [UUID] = []
                for (source, refs) in [(plan.policeSource, chunk.filter(\.police)), (plan.bureauSource, chunk.filter { !$0.police })]
                where !refs.isEmpty {
                    ids += try await ScaleDataStore.matchedFlagIDs(
                        source: source,
                        references: refs.map(\.reference),
                        on: connection,
                        logger: logger
                    )
                }
                try await registry.flags.applyEffects(ids, caller: .system, on: connection, logger: logger)
            }
        }
        let sources = [plan.policeSource, plan.bureauSource]
        let suspensions = try await ScaleDataStore.countSuspensions(sources: sources, database: database, logger: logger)
        let cases = try await ScaleDataStore.countCases(sources: sources, database: database, logger: logger)
        return [
            "flags": options.flags, "flags matched to a file": matched, "suspensions (automatic)": suspensions,
            "cases (opened by the system)": cases,
        ]
    }

    static func flagBatches(_ range: Range<Int>, batch: Int) -> [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: batch).map { $0..<min($0 + batch, range.upperBound) }
    }

    struct FlagBatch: Sendable {
        var matched = 0
        var consequential: [Consequential] = []
    }

    static let policeCategories: [(String, Double)] = [
        ("theft", 0.30), ("fraud", 0.30), ("drug_offence", 0.20), ("violent_crime", 0.12),
        ("child_or_elder_abuse", 0.08),
    ]
    static let policeStatuses: [(String, Double)] = [("alleged", 0.85), ("charged", 0.09), ("convicted", 0.05), ("adjudicated", 0.01)]
    static let bureauCategories: [(String, Double)] = [("debt_default", 0.5), ("fare_evasion", 0.35), ("loan_fraud", 0.15)]
    static let bureauStatuses: [(String, Double)] = [("adjudicated", 0.7), ("alleged", 0.2), ("charged", 0.1)]
    static let severities: [(Int, Double)] = [(1, 0.3), (2, 0.3), (3, 0.2), (4, 0.13), (5, 0.07)]

    static func weighted<T>(_ items: [(T, Double)], _ rng: inout DemoRandom) -> T {
        var u = rng.unit()
        for (item, weight) in items {
            if u < weight { return item }
            u -= weight
        }
        return items[items.count - 1].0
    }

    func flagBatch(_ range: Range<Int>, police: Bool, batch: Int, plan: Plan, identities: Identities, known: Set<UInt64>) async throws -> FlagBatch {
        var rng = DemoRandom(seed: plan.seed, stream: 5_000_000 + UInt64(batch))
        let today = plan.today
        let policy = registry.policies.flags
        let kind: SourceKind = police ? .police : .creditBureau
        let workers = identities.bodies.count
        let flagged = max(1, workers * 15 / 100)
        var out = FlagBatch()
        var buffer = ByteBuffer()
        for j in range {
            var body: UInt64
            if workers > 0, rng.chance(0.95) {
                body = identities.bodies[workers - flagged + rng.below(flagged)]
            } else {
                repeat {
                    let birth = CivilDate(year: today.year - 25 - rng.below(35), month: 1, day: 1)!.adding(days: rng.below(365))
                    body = DemoPeople.body(region: rng.pick(DemoPeople.originCounties), birth: birth, serial: rng.below(1000))
                } while known.contains(body)
            }
            let birth = DemoPeople.birthDate(of: body)
            let adult = CivilDate(year: birth.year + 18, month: birth.month, day: min(birth.day, 28))!
            let earliest = max(adult, today.adding(days: -8 * 365))
            let occurred = earliest.adding(days: rng.below(max(1, today.daysSinceEpoch - 1 - earliest.daysSinceEpoch)))
            let category = Self.weighted(police ? Self.policeCategories : Self.bureauCategories, &rng)
            let status = Self.weighted(police ? Self.policeStatuses : Self.bureauStatuses, &rng)
            let severity = Self.weighted(Self.severities, &rng)
            let narrative = police ? rng.pick(DemoPeople.policeNarratives) : (rng.chance(0.3) ? rng.pick(DemoPeople.bureauNarratives) : nil)
            let number = String(j + 1)
            let serial = String(repeating: "0", count: max(0, 9 - number.count)) + number
            let reference = police ? "GA\(plan.tag)-\(occurred.year)-\(serial)" : "ZX\(plan.tag)-\(serial)"
            let input = FlagSubmission.Input(
                idNumber: DemoPeople.idNumber(body),
                reference: reference,
                category: category,
                severity: severity,
                status: status,
                occurredOn: occurred.iso,
                expiresOn: nil,
                narrative: narrative
            )
            let submission = try FlagSubmission(input, source: kind, policy: policy, today: today)
            registry.flags.appendCopyLine(submission, sourceID: police ? plan.policeSource : plan.bureauSource, line: j, to: &buffer)
            let effect = policy.effects(
                category: category,
                status: submission.status,
                severity: severity,
                expired: submission.expiresOn.map { $0 < today } ?? false
            )
            if effect.suspend || effect.openCase, known.contains(body) {
                out.consequential.append(Consequential(police: police, reference: reference, body: body))
            }
        }
        let source = police ? plan.policeSource : plan.bureauSource
        out.matched = try await ScaleDataStore.insertFlags(buffer, source: source, today: today.iso, database: database, logger: logger)
        return out
    }
}
