import Foundation
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@Suite("Grades kept current")
struct GradingServiceTests {
    func queued(_ registry: Registry) async throws -> Int {
        let rows = try await registry.database.query("SELECT count(*)::int FROM grade_queue", logger: testLogger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    @Test("every input change queues the worker; the queue drains once, even with two nodes at once; history records changes")
    func queueAndHistory() async throws {
        try await withTestRegistry { registry, _ in
            var workers: [WorkerID] = []
            let h = try await Household.make(registry)
            workers.append(h.workerID)
            for i in 0..<30 {
                workers.append(
                    try await registry.workers.register(
                        Fixtures.registration(Fixtures.idNumber(serial: 600 + 2 * i), phone: nil),
                        caller: h.agency,
                        logger: testLogger
                    )
                )
            }
            #expect(try await queued(registry) == 31)
            // Two nodes drain at the same time: SKIP LOCKED gives each its own workers.
            async let a = registry.grading.drainQueue(limit: 20, logger: testLogger)
            async let b = registry.grading.drainQueue(limit: 20, logger: testLogger)
            let (na, nb) = try await (a, b)
            #expect(na + nb == 31)
            #expect(try await queued(registry) == 0)
            let history = try await registry.database.query(
                "SELECT count(*)::int, count(DISTINCT worker_id)::int FROM grade_history",
                logger: testLogger
            )
            let (n, distinct) = try await single(history, (Int, Int).self)
            #expect(n == 31 && distinct == 31)

            // A good review and agency assessment queue her again; the report shows the grade and its reasons.
            let before = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)
            try await registry.workers.assess(h.workerID, .init(ethicsRating: 5), caller: h.agency, logger: testLogger)
            #expect(try await queued(registry) == 1)
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let report = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            let grade = try #require(report.grade)
            #expect(grade.policyVersion == registry.policies.grading.version)
            #expect(!grade.reasons.isEmpty)
            let after = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)
            #expect(after.composite >= before.composite)
            #expect(after.reasons.allSatisfy { !$0.text.isEmpty })
            let zh = try await registry.grading.explained(h.workerID, language: "zh-CN", logger: testLogger)
            #expect(zh.reasons.map(\.code) == after.reasons.map(\.code) && zh.reasons.first?.text != after.reasons.first?.text)

            // Every other input queues her too: a skill, a training, a health certificate, a review, a flag.
            let e = try await registry.engagement(h, confirmedBy: h.employer)
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let (sourceID, _, _, police) = try await registry.source("police-q", kind: "police")
            let changes: [(String, () async throws -> Void)] = [
                (
                    "skill",
                    {
                        _ = try await registry.workers.addSkill(
                            h.workerID,
                            .init(
                                category: "nanny",
                                level: 4,
                                assessedOn: "2026-01-01",
                                assessor: "X",
                                note: nil
                            ),
                            caller: h.agency,
                            logger: testLogger
                        )
                    }
                ),
                (
                    "training",
                    {
                        _ = try await registry.workers.addTraining(
                            h.workerID,
                            .init(
                                kind: "training",
                                title: "育婴员培训",
                                issuer: "中心",
                                category: "nanny",
                                certificateNo: nil,
                                issuedOn: "2025-05-01",
                                expiresOn: nil,
                                hours: 40
                            ),
                            caller: h.agency,
                            logger: testLogger
                        )
                    }
                ),
                (
                    "health",
                    {
                        _ = try await registry.workers.addHealthCertificate(
                            h.workerID,
                            .init(
                                issuer: "医院",
                                certificateNo: nil,
                                issuedOn: "2026-01-10",
                                validUntil: "2099-01-10",
                                result: nil
                            ),
                            caller: h.agency,
                            logger: testLogger
                        )
                    }
                ),
                (
                    "review",
                    {
                        _ = try await registry.engagements.review(
                            engagement: e,
                            .init(
                                skillScores: ["punctuality": 4, "quality": 4],
                                ethicsScores: ["honesty": 4, "respect": 4, "reliability": 4, "care": 4],
                                comment: "好"
                            ),
                            caller: h.employer,
                            logger: testLogger
                        )
                    }
                ),
                (
                    "flag",
                    {
                        _ = try await registry.flags.submit(
                            [flag(Fixtures.idNumber(serial: 101), "Q-1", "fraud", severity: 1, status: "alleged")],
                            sourceID: sourceID,
                            caller: police,
                            logger: testLogger
                        )
                    }
                ),
            ]
            for (what, change) in changes {
                try await change()
                #expect(try await queued(registry) == 1, "\(what) queues her")
                _ = try await registry.grading.drainQueue(logger: testLogger)
            }
        }
    }

    @Test("a convicted abuse flag pulls the grade down; a ban makes it REVOKED; regrade --all recomputes everyone")
    func flagsAndBans() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let id = Fixtures.idNumber()
            let w = try await registry.workers.register(Fixtures.registration(id), caller: agency, logger: testLogger)
            _ = try await registry.workers.addSkill(
                w,
                .init(category: "nanny", level: 5, assessedOn: "2026-01-01", assessor: "X", note: nil),
                caller: agency,
                logger: testLogger
            )
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let clean = try await registry.grading.explained(w, language: "en", logger: testLogger)
            let (sourceID, _, _, police) = try await registry.source("police-g", kind: "police")
            _ = try await registry.flags.submit(
                [flag(id, "G-1", "child_or_elder_abuse", severity: 3, status: "convicted")],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let flagged = try await registry.grading.explained(w, language: "en", logger: testLogger)
            #expect(flagged.grade == "D")
            #expect(flagged.composite < clean.composite)
            #expect(flagged.reasons.contains { $0.code == "flag_child_or_elder_abuse" })
            #expect(flagged.history.last?.toGrade == "D")

            try await registry.database.withConnection { connection in
                let rows = try await connection.query(
                    """
                    INSERT INTO cases (worker_id, requester_kind, grounds, statement, state, policy_version)
                    VALUES (\(w), 'system', 'abuse', 'test', 'executed', 'test') RETURNING id
                    """,
                    logger: testLogger
                )
                var caseID: UUID?
                for try await cid in rows.decode(UUID.self) { caseID = cid }
                try await connection.query("INSERT INTO bans (worker_id, case_id) VALUES (\(w), \(caseID))", logger: testLogger)
            }
            _ = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber(serial: 702)), caller: agency, logger: testLogger)
            let regraded = try await registry.grading.regradeAll(batch: 1, logger: testLogger) { _, _ in }
            #expect(regraded == 2, "everyone, in batches of one")
            let barred = try await registry.grading.explained(w, language: "en", logger: testLogger)
            #expect(barred.grade == "REVOKED")
            #expect(barred.reasons.first?.code == "barred")
            let full = try await registry.grading.computation(w, purpose: "audit", caller: try await registry.adminCaller, logger: testLogger)
            #expect(full.grade == .revoked && full.policyVersion == registry.policies.grading.version)
        }
    }

    @Test("a policy change followed by regrade --all changes grades and records the new version")
    func policyChange() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            var ids: [WorkerID] = []
            for i in 0..<5 {
                let w = try await registry.workers.register(
                    Fixtures.registration(Fixtures.idNumber(serial: 700 + 2 * i), phone: nil),
                    caller: agency,
                    logger: testLogger
                )
                try await registry.workers.assess(w, .init(ethicsRating: 5), caller: agency, logger: testLogger)
                ids.append(w)
            }
            _ = try await registry.grading.regradeAll(logger: testLogger) { _, _ in }
            let before = try await registry.grading.explained(ids[0], language: "en", logger: testLogger)
            var policies = registry.policies
            policies.grading.version = "test.2"
            policies.grading.composite = .init(ethicsWeight: 0.9, skillWeight: 0.1)
            let changed = try Registry(
                configuration: registry.configuration,
                policies: policies,
                database: registry.database,
                keys: registry.keys,
                hasher: testHasher
            )
            #expect(try await changed.grading.regradeAll(batch: 2, logger: testLogger) { _, _ in } == 5)
            let after = try await changed.grading.explained(ids[0], language: "en", logger: testLogger)
            #expect(after.policyVersion == "test.2" && before.policyVersion == registry.policies.grading.version)
            #expect(after.composite != before.composite)
            let versions = try await registry.database.query("SELECT DISTINCT policy_version FROM grades", logger: testLogger)
            var seen: [String] = []
            for try await v in versions.decode(String.self) { seen.append(v) }
            #expect(seen == ["test.2"])
        }
    }

    @Test("concurrent events for one worker end in the grade computed from all of them")
    func concurrentEvents() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            var engagements: [UUID] = []
            var employers: [Caller] = []
            for i in 0..<3 {
                let employer = try await registry.employer("e\(i)@example.cn", household: "家\(i)")
                let e = try await registry.engagement(h, employerEmail: "e\(i)@example.cn", startsOn: "2026-01-01", confirmedBy: employer)
                engagements.append(e)
                employers.append(employer)
            }
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let (sourceID, _, _, police) = try await registry.source("police-h", kind: "police")
            // Reviews, an assessment and a flag arrive at once, with graders draining concurrently.
            let placed = engagements
            let households = employers
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<3 {
                    group.addTask {
                        _ = try await registry.engagements.review(
                            engagement: placed[i],
                            .init(
                                skillScores: ["quality": 2 + i],
                                ethicsScores: ["honesty": 1 + i, "respect": 2, "reliability": 3, "care": 1 + i],
                                comment: nil
                            ),
                            caller: households[i],
                            logger: testLogger
                        )
                    }
                    group.addTask { _ = try await registry.grading.drainQueue(logger: testLogger) }
                }
                group.addTask { try await registry.workers.assess(h.workerID, .init(ethicsRating: 2), caller: h.agency, logger: testLogger) }
                group.addTask {
                    _ = try await registry.flags.submit(
                        [flag(Fixtures.idNumber(serial: 101), "H-1", "fraud", severity: 2, status: "alleged")],
                        sourceID: sourceID,
                        caller: police,
                        logger: testLogger
                    )
                }
                try await group.waitForAll()
            }
            while try await registry.grading.drainQueue(logger: testLogger) > 0 {}
            let stored = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)
            let fresh = try await registry.grading.computation(
                h.workerID,
                purpose: "audit",
                caller: try await registry.adminCaller,
                logger: testLogger
            )
            #expect(stored.composite == fresh.composite)
            #expect(stored.grade == fresh.grade.rawValue)
            #expect(fresh.computation.ethics.flags.count == 1)
            let reviews = try await registry.database.query("SELECT count(*)::int FROM reviews WHERE worker_id = \(h.workerID)", logger: testLogger)
            #expect(try await single(reviews, Int.self) == 3)
            #expect(try await registry.reviewGraderColumnsDiffering() == 0)
            #expect(stored.reasons.map(\.code) == fresh.reasons.map(\.code))
            #expect(stored.skillLevels == fresh.skillLevelsByName && stored.ethicsScore == fresh.ethicsScore)
        }
    }
}
