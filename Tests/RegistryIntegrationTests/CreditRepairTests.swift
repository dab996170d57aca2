import Crypto
import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

extension Registry {
    /// A credit-bureau record about W (household 1's worker, serial 101), returned by id.
    func bureauFlag(_ ref: String, _ category: String, occurred: String, severity: Int = 3, status: String = "adjudicated") async throws -> UUID {
        let (sourceID, _, _, bureau) = try await source("bureau-\(ref.lowercased())", kind: "credit_bureau")
        let result = try await flags.submit(
            [flag(Fixtures.idNumber(serial: 101), ref, category, severity: severity, status: status, occurred: occurred)],
            sourceID: sourceID,
            caller: bureau,
            logger: testLogger
        )
        return try #require(result.first?.flagId.flatMap(UUID.init(uuidString:)))
    }

    /// A police record about W, returned by id.
    func policeFlag(
        _ ref: String,
        _ category: String,
        occurred: String,
        severity: Int = 1,
        status: String = "alleged",
        serial: Int = 101
    ) async throws -> UUID {
        let (sourceID, _, _, police) = try await source("police-\(ref.lowercased())", kind: "police")
        let result = try await flags.submit(
            [flag(Fixtures.idNumber(serial: serial), ref, category, severity: severity, status: status, occurred: occurred)],
            sourceID: sourceID,
            caller: police,
            logger: testLogger
        )
        return try #require(result.first?.flagId.flatMap(UUID.init(uuidString:)))
    }

    func pdfProof(_ name: String = "培训证书.pdf") -> CreditRepairService.NewProof {
        .init(filename: name, contentType: "application/pdf", bytes: pdfBytes)
    }
}

@Suite("Credit repair")
struct CreditRepairIntegrationTests {
    @Test(
        "by period: approved, the record leaves her grade and the employers' report, stays for administrators and the audit, she is told; never twice"
    )
    func repairByPeriod() async throws {
        try await withTestRegistry { registry, _ in
            // setup: a debt default three years old (the period for debt_default is 2 years, the expiry 5)
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            _ = try await registry.engagement(h, confirmedBy: h.employer)
            let flagID = try await registry.bureauFlag("D-1", "debt_default", occurred: registry.clock.today.adding(days: -3 * 366).iso)
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let flagged = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)
            #expect(flagged.reasons.contains { $0.code == "flag_debt_default" })
            #expect(try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger).flags.count == 1)
            let records = try await registry.repairs.records(caller: h.worker, logger: testLogger)
            #expect(records.first?.period == "eligible")

            // act
            let id = try await registry.repairs.apply(flagID: flagID, .init(basis: "period"), caller: h.worker, logger: testLogger)
            await expectError("repair_open") {
                try await registry.repairs.apply(flagID: flagID, .init(basis: "period"), caller: h.worker, logger: testLogger)
            }
            #expect(try await registry.repairs.queue(openOnly: true, caller: admin, logger: testLogger).map(\.id) == [id.text])
            try await registry.repairs.decide(id, approve: true, reason: "期满且无新的不良记录", caller: admin, logger: testLogger)
            _ = try await registry.grading.drainQueue(logger: testLogger)

            // verify
            let repaired = try await registry.grading.explained(h.workerID, language: "en", logger: testLogger)
            #expect(!repaired.reasons.contains { $0.code == "flag_debt_default" })
            #expect(repaired.composite > flagged.composite)
            #expect(try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger).flags.isEmpty)
            let after = try await registry.repairs.records(caller: h.worker, logger: testLogger)
            #expect(after.first?.repairedOn == registry.clock.today.iso)
            #expect(after.first?.period == "already_repaired")
            #expect(try await registry.flags.ownFlags(caller: h.worker, logger: testLogger).count == 1, "still on her own file")
            let decided = try await registry.repairs.queue(openOnly: false, caller: admin, logger: testLogger)
            #expect(decided.first?.status == "approved" && decided.first?.decisionReason == "期满且无新的不良记录")
            #expect(try await registry.auditCount("repair.applied", subject: flagID) == 1)
            #expect(try await registry.auditCount("repair.approved", subject: flagID) == 1)
            #expect(try await registry.notificationCount("repair_approved") == 1)
            await expectError("already_repaired") {
                try await registry.repairs.apply(flagID: flagID, .init(basis: "period"), caller: h.worker, logger: testLogger)
            }
            await expectError("repair_decided") {
                try await registry.repairs.decide(id, approve: false, reason: "改主意", caller: admin, logger: testLogger)
            }
        }
    }

    @Test("by period: refused before the category's period ends, and never for a category without one")
    func periodRules() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let recent = try await registry.bureauFlag("F-1", "fare_evasion", occurred: registry.clock.today.adding(days: -30).iso)
            let abuse = try await registry.policeFlag("A-1", "child_or_elder_abuse", occurred: "2001-01-01")
            let before = try await registry.fingerprint()
            await expectError("repair_period_not_over") {
                try await registry.repairs.apply(flagID: recent, .init(basis: "period"), caller: h.worker, logger: testLogger)
            }
            await expectError("no_repair_period") {
                try await registry.repairs.apply(flagID: abuse, .init(basis: "period"), caller: h.worker, logger: testLogger)
            }
            await expectError("invalid_field") {
                try await registry.repairs.apply(flagID: abuse, .init(basis: "luck"), caller: h.worker, logger: testLogger)
            }
            #expect(changedTables(before, try await registry.fingerprint()) == [])
            let records = try await registry.repairs.records(caller: h.worker, logger: testLogger)
            #expect(Set(records.map(\.period)) == ["repair_period_not_over", "no_repair_period"])
            #expect(records.allSatisfy { $0.proofPossible })
        }
    }

    @Test("on proof: a statement and a real file are required; refused, the record keeps counting and she may apply again")
    func repairByProof() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            let flagID = try await registry.policeFlag("P-1", "child_or_elder_abuse", occurred: "2020-01-01")
            let before = try await registry.fingerprint()
            await expectError("missing_field") {
                try await registry.repairs.apply(
                    flagID: flagID,
                    .init(basis: "proof"),
                    newProof: registry.pdfProof(),
                    caller: h.worker,
                    logger: testLogger
                )
            }
            await expectError("missing_field") {
                try await registry.repairs.apply(flagID: flagID, .init(basis: "proof", statement: "已完成培训"), caller: h.worker, logger: testLogger)
            }
            await expectError("evidence_type") {
                try await registry.repairs.apply(
                    flagID: flagID,
                    .init(basis: "proof", statement: "已完成培训"),
                    newProof: .init(filename: "x.pdf", contentType: "application/pdf", bytes: Array("not a pdf".utf8)),
                    caller: h.worker,
                    logger: testLogger
                )
            }
            #expect(changedTables(before, try await registry.fingerprint()) == [])

            // The API's two steps: the file, then the application naming it.
            let proof = try await registry.repairs.addProof(
                filename: "培训证书.pdf",
                contentType: "application/pdf",
                upload: EvidenceUpload(content: Data(pdfBytes), sha256: Data(SHA256.hash(data: Data(pdfBytes)))),
                caller: h.worker,
                logger: testLogger
            )
            let id = try await registry.repairs.apply(
                flagID: flagID,
                .init(basis: "proof", statement: "已完成儿童照护培训并取得证书", proofId: UUID(uuidString: proof.id)),
                caller: h.worker,
                logger: testLogger
            )
            let file = try await registry.repairs.proof(try #require(UUID(uuidString: proof.id)), caller: admin, logger: testLogger)
            #expect(file.bytes == pdfBytes && file.filename == "培训证书.pdf")
            try await registry.repairs.decide(id, approve: false, reason: "证明材料与记录无关", caller: admin, logger: testLogger)
            _ = try await registry.grading.drainQueue(logger: testLogger)
            #expect(try await registry.reports.report(h.workerID, purpose: "dispute", caller: admin, logger: testLogger).flags.count == 1)
            #expect(try await registry.notificationCount("repair_refused") == 1)
            #expect(try await registry.auditCount("repair.refused", subject: flagID) == 1)
            let own = try await registry.repairs.own(caller: h.worker, logger: testLogger)
            #expect(own.first?.status == "refused" && own.first?.decisionReason == "证明材料与记录无关")
            // A proof supports one application; a new file, a new application.
            await expectError("proof_used") {
                try await registry.repairs.apply(
                    flagID: flagID,
                    .init(basis: "proof", statement: "再次申请", proofId: UUID(uuidString: proof.id)),
                    caller: h.worker,
                    logger: testLogger
                )
            }
            _ = try await registry.repairs.apply(
                flagID: flagID,
                .init(basis: "proof", statement: "已赔偿并完成培训"),
                newProof: registry.pdfProof("赔偿收据.pdf"),
                caller: h.worker,
                logger: testLogger
            )
            #expect(try await registry.auditCount("repair.proof_added") == 2)
        }
    }

    @Test("forbidden: another worker's record or proof, an agency, an employer; nobody decides her own application")
    func forbiddenPaths() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let other = try await Household.make(registry, n: 3, employerEmail: "other@example.cn")
            let flagID = try await registry.bureauFlag("X-1", "debt_default", occurred: "2020-01-01")
            let proof = try await registry.repairs.addProof(
                filename: "a.pdf",
                contentType: "application/pdf",
                upload: EvidenceUpload(content: Data(pdfBytes), sha256: Data(SHA256.hash(data: Data(pdfBytes)))),
                caller: h.worker,
                logger: testLogger
            )
            let proofID = try #require(UUID(uuidString: proof.id))
            let before = try await registry.fingerprint()
            await expectError("not_found") {
                try await registry.repairs.apply(flagID: flagID, .init(basis: "period"), caller: other.worker, logger: testLogger)
            }
            await expectError("forbidden") {
                try await registry.repairs.apply(flagID: flagID, .init(basis: "period"), caller: h.agency, logger: testLogger)
            }
            await expectError("forbidden") {
                try await registry.repairs.apply(flagID: flagID, .init(basis: "period"), caller: h.employer, logger: testLogger)
            }
            await expectError("not_found") { try await registry.repairs.proof(proofID, caller: other.worker, logger: testLogger) }
            await expectError("not_found") { try await registry.repairs.proof(proofID, caller: h.agency, logger: testLogger) }
            #expect(changedTables(before, try await registry.fingerprint()) == [])
            let id = try await registry.repairs.apply(flagID: flagID, .init(basis: "period"), caller: h.worker, logger: testLogger)
            await expectError("forbidden") {
                try await registry.repairs.decide(id, approve: true, reason: "我自己批准", caller: h.worker, logger: testLogger)
            }
            await expectError("forbidden") {
                try await registry.repairs.queue(openOnly: true, caller: h.agency, logger: testLogger)
            }
            // Another worker cannot use her proof for her own record.
            let hers = try await registry.policeFlag("Y-1", "fraud", occurred: "2024-01-01", serial: 103)
            await expectError("not_found") {
                try await registry.repairs.apply(
                    flagID: hers,
                    .init(basis: "proof", statement: "借用", proofId: proofID),
                    caller: other.worker,
                    logger: testLogger
                )
            }
        }
    }

    @Test("the database refuses any change to a decided application")
    func decidedIsFinal() async throws {
        try await withTestRegistry { registry, endpoint in
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            let flagID = try await registry.bureauFlag("Z-1", "debt_default", occurred: "2020-01-01")
            let id = try await registry.repairs.apply(flagID: flagID, .init(basis: "period"), caller: h.worker, logger: testLogger)
            try await registry.repairs.decide(id, approve: true, reason: "期满", caller: admin, logger: testLogger)
            try await asOwner(endpoint) { client in
                await expectSQLError("42501", "is decided and cannot change") {
                    try await client.query("UPDATE flag_repairs SET status = 'refused' WHERE id = \(id)", logger: testLogger)
                }
            }
        }
    }
}
