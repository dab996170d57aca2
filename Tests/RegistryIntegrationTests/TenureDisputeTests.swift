import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

extension Registry {
    /// W (household 1, with her account) moves from agency 1 to agency 2 through the real
    /// transfer: she consents in her account and agency 1 seals its tenure with `rating`.
    /// Returns the household, agency 2's staff and the sealed tenure's id.
    func movedWorker(rating: Int = 1, note: String = "多次迟到，态度差") async throws -> (Household, Caller, UUID) {
        let h = try await Household.make(self)
        let (_, b) = try await approvedAgency(2)
        let requested = try await transfers.request(idNumber: Fixtures.idNumber(serial: 101), caller: b, logger: testLogger)
        let tid = try #require(UUID(uuidString: requested.transfer.id))
        _ = try await transfers.consent(tid, code: nil, caller: h.worker, logger: testLogger)
        _ = try await transfers.seal(
            tid,
            final: .init(workAbility: "一般", ethicsRating: rating, ethicsNote: note),
            caller: h.agency,
            logger: testLogger
        )
        let file = try await workers.file(h.workerID, purpose: "dispute", caller: try await adminCaller, logger: testLogger)
        let sealed = try #require(file.tenures.first { $0.sealedAt != nil })
        return (h, b, try #require(UUID(uuidString: sealed.id)))
    }

    /// The sealed tenure's stored assessment, read straight from the table.
    func storedRating(_ tenureID: UUID) async throws -> Int? {
        let rows = try await database.query("SELECT ethics_rating::int FROM tenures WHERE id = \(tenureID)", logger: testLogger)
        for try await rating in rows.decode(Int?.self) { return rating }
        return nil
    }

    func annotationCount(_ tenureID: UUID) async throws -> Int {
        let rows = try await database.query("SELECT count(*)::int FROM tenure_annotations WHERE tenure_id = \(tenureID)", logger: testLogger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }
}

@Suite("Disputes of sealed tenure assessments")
struct TenureDisputeTests {
    @Test("upheld: an annotation overturns the assessment, the sealed tenure is untouched, the grade and report follow, both parties are told")
    func upheldOverturnsByAnnotation() async throws {
        try await withTestRegistry { registry, _ in
            // setup
            let (h, _, tenure) = try await registry.movedWorker(rating: 1)
            let admin = try await registry.adminCaller
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let before = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)

            // act
            let id = try await registry.tenureDisputes.raise(tenureID: tenure, reason: "评分与事实不符", caller: h.worker, logger: testLogger)
            #expect(try await registry.notificationCount("tenure_disputed") == 1)
            try await registry.tenureDisputes.answer(id, statement: "她确实多次迟到", caller: h.agency, logger: testLogger)
            let queued = try await registry.tenureDisputes.open(logger: testLogger)
            #expect(queued.map(\.id) == [id.text])
            #expect(queued.first?.agencyStatement == "她确实多次迟到")
            try await registry.tenureDisputes.decide(id, uphold: true, note: "雇主评价与机构评分矛盾", caller: admin, logger: testLogger)
            _ = try await registry.grading.drainQueue(logger: testLogger)

            // verify: the sealed row keeps its rating; one annotation marks it overturned
            #expect(try await registry.storedRating(tenure) == 1)
            #expect(try await registry.annotationCount(tenure) == 1)
            let after = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)
            #expect(after.ethicsScore > before.ethicsScore, "an overturned rating of 1 no longer pulls her ethics down")
            let report = try await registry.reports.report(h.workerID, purpose: "dispute", caller: admin, logger: testLogger)
            let shown = try #require(report.tenures.first { $0.overturned != nil })
            #expect(shown.overturned?.reason == "雇主评价与机构评分矛盾")
            #expect(shown.ethicsRating == 1, "the original stays, marked")
            let own = try await registry.tenureDisputes.own(caller: h.worker, logger: testLogger)
            #expect(own.first?.status == "upheld" && own.first?.decisionNote == "雇主评价与机构评分矛盾")
            #expect(try await registry.notificationCount("tenure_dispute_upheld") == 1)
            #expect(try await registry.notificationCount("tenure_assessment_overturned") == 1)
            #expect(try await registry.auditCount("tenure.disputed", subject: tenure) == 1)
            #expect(try await registry.auditCount("tenure.dispute_answered", subject: tenure) == 1)
            #expect(try await registry.auditCount("tenure.assessment_overturned", subject: tenure) == 1)
            #expect(try await registry.tenureDisputes.open(logger: testLogger).isEmpty)
            // An overturned assessment is not disputed again.
            await expectError("assessment_overturned") {
                try await registry.tenureDisputes.raise(tenureID: tenure, reason: "再次", caller: h.worker, logger: testLogger)
            }
        }
    }

    @Test("rejected: the assessment stays and counts, with the decision note; she and the agency are told")
    func rejectedKeepsTheAssessment() async throws {
        try await withTestRegistry { registry, _ in
            let (h, _, tenure) = try await registry.movedWorker(rating: 1)
            let admin = try await registry.adminCaller
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let before = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)
            let id = try await registry.tenureDisputes.raise(tenureID: tenure, reason: "不公平", caller: h.worker, logger: testLogger)
            try await registry.tenureDisputes.decide(id, uphold: false, note: "机构提供了考勤记录", caller: admin, logger: testLogger)
            _ = try await registry.grading.drainQueue(logger: testLogger)

            #expect(try await registry.annotationCount(tenure) == 0)
            let report = try await registry.reports.report(h.workerID, purpose: "dispute", caller: admin, logger: testLogger)
            #expect(report.tenures.allSatisfy { $0.overturned == nil })
            let after = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)
            #expect(after.ethicsScore == before.ethicsScore)
            #expect(try await registry.tenureDisputes.own(caller: h.worker, logger: testLogger).first?.decisionNote == "机构提供了考勤记录")
            #expect(try await registry.notificationCount("tenure_dispute_rejected") == 1)
            #expect(try await registry.notificationCount("tenure_assessment_kept") == 1)
            #expect(try await registry.auditCount("tenure.dispute_rejected", subject: tenure) == 1)
            // Decided once; a new dispute may follow a rejection.
            await expectError("dispute_decided") {
                try await registry.tenureDisputes.decide(id, uphold: true, note: "改判", caller: admin, logger: testLogger)
            }
            _ = try await registry.tenureDisputes.raise(tenureID: tenure, reason: "有新证据", caller: h.worker, logger: testLogger)
        }
    }

    @Test("refused: another worker, an open tenure, a second open dispute, another agency's answer, a second answer, no reason — nothing changes")
    func refusals() async throws {
        try await withTestRegistry { registry, _ in
            let (h, newAgency, tenure) = try await registry.movedWorker()
            let other = try await Household.make(registry, n: 3, employerEmail: "other@example.cn")
            let admin = try await registry.adminCaller
            await expectError("not_found") {
                try await registry.tenureDisputes.raise(tenureID: tenure, reason: "不是我的", caller: other.worker, logger: testLogger)
            }
            await expectError("forbidden") {
                try await registry.tenureDisputes.raise(tenureID: tenure, reason: "机构", caller: h.agency, logger: testLogger)
            }
            await expectError("missing_field") {
                try await registry.tenureDisputes.raise(tenureID: tenure, reason: "  ", caller: h.worker, logger: testLogger)
            }
            // Her current tenure (with agency 2) is open.
            let file = try await registry.workers.file(h.workerID, purpose: "dispute", caller: admin, logger: testLogger)
            let open = try #require(file.tenures.first { $0.sealedAt == nil }.flatMap { UUID(uuidString: $0.id) })
            await expectError("tenure_not_sealed") {
                try await registry.tenureDisputes.raise(tenureID: open, reason: "还没结束", caller: h.worker, logger: testLogger)
            }
            let before = try await registry.fingerprint()
            let id = try await registry.tenureDisputes.raise(tenureID: tenure, reason: "不实", caller: h.worker, logger: testLogger)
            await expectError("dispute_open") {
                try await registry.tenureDisputes.raise(tenureID: tenure, reason: "再一次", caller: h.worker, logger: testLogger)
            }
            // Only the agency that wrote it answers, once.
            await expectError("not_found") {
                try await registry.tenureDisputes.answer(id, statement: "不关我们的事", caller: newAgency, logger: testLogger)
            }
            #expect(try await registry.tenureDisputes.forAgency(caller: newAgency, logger: testLogger).isEmpty)
            #expect(try await registry.tenureDisputes.forAgency(caller: h.agency, logger: testLogger).map(\.id) == [id.text])
            try await registry.tenureDisputes.answer(id, statement: "情况属实", caller: h.agency, logger: testLogger)
            await expectError("already_answered") {
                try await registry.tenureDisputes.answer(id, statement: "补充", caller: h.agency, logger: testLogger)
            }
            await expectError("forbidden") {
                try await registry.tenureDisputes.decide(id, uphold: true, note: "自己裁决", caller: h.worker, logger: testLogger)
            }
            let changed = changedTables(before, try await registry.fingerprint())
            #expect(Set(changed).isSubset(of: ["tenure_disputes", "audit_log", "audit_queue", "notifications"]), "\(changed)")
            #expect(try await registry.storedRating(tenure) == 1)
        }
    }
}

extension Registry {
    /// An earlier tenure of the worker with `agency`, sealed with an assessment, inserted as a
    /// finished transfer leaves it (set-up for worlds that keep her with her current agency).
    func sealedTenure(worker: WorkerID, agency: AgencyID, rating: Int = 2) async throws -> UUID {
        let rows = try await database.query(
            """
            INSERT INTO tenures (worker_id, agency_id, started_on, ended_on, ethics_rating, ethics_note, work_ability, sealed_at, sealed_how)
            VALUES (\(worker.uuid), \(agency.uuid), '2023-01-01', '2024-06-30', \(Int16(rating)), '工作不够细致', '一般', now(), 'agency')
            RETURNING id
            """,
            logger: testLogger
        )
        for try await id in rows.decode(UUID.self) { return id }
        throw RegistryError(.unavailable, code: "insert_failed", message: "no tenure")
    }
}
