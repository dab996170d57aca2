import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryHTTP
import RegistryServices
import RegistryStorage
import Testing

extension Registry {
    func admins(_ n: Int) async throws -> [Caller] {
        var result: [Caller] = []
        for _ in 0..<n { result.append(try await adminCaller) }
        return result
    }

    func caseState(_ id: CaseID) async throws -> String {
        for try await s in try await database.query("SELECT state FROM cases WHERE id = \(id)", logger: testLogger).decode(String.self) { return s }
        return "?"
    }
}

let pdfBytes = Array("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".utf8)
let jpegBytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 0x42, count: 200) + [0xFF, 0xD9]

@Suite("Revocation cases")
struct CaseTests {
    /// A household with a confirmed engagement, and the case its employer filed.
    func filed(_ registry: Registry) async throws -> (Household, CaseID) { try await registry.filedCase() }

    func cmd(_ c: String, _ reason: String = "理由", outcome: String? = nil, channel: String? = nil, evidence: String? = nil) -> CaseService.Command {
        .init(command: c, reason: reason, outcome: outcome, channel: channel, evidenceId: evidence)
    }

    @Test(
        "the whole workflow: file with evidence, two administrators decide, the worker objects, a third rejects the objection, execution bars her; reinstatement lifts it"
    )
    func fullWorkflow() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id) = try await filed(registry)
            let (a1, a2, a3, a4, a5) = try await {
                let a = try await registry.admins(5)
                return (a[0], a[1], a[2], a[3], a[4])
            }()
            _ = try await registry.cases.addEvidence(
                id,
                filename: "监控截图.jpg",
                contentType: "image/jpeg",
                bytes: jpegBytes,
                description: "截图",
                caller: h.employer,
                logger: testLogger
            )
            _ = try await registry.cases.addEvidence(
                id,
                filename: "病历.pdf",
                contentType: "application/pdf",
                bytes: pdfBytes,
                description: nil,
                caller: h.employer,
                logger: testLogger
            )
            // Skipping a state is refused with the allowed commands.
            let skip = await #expect(throws: RegistryError.self) {
                try await registry.cases.act(id, cmd("confirm_decision"), caller: a1, logger: testLogger)
            }
            #expect(skip?.code == "illegal_transition" && skip?.details["allowed"] == "start_review")
            _ = try await registry.cases.act(id, cmd("start_review"), caller: a1, logger: testLogger)
            _ = try await registry.cases.act(id, cmd("request_information", "请补充时间"), caller: a1, logger: testLogger)
            _ = try await registry.cases.act(id, cmd("provide_information", "2026年3月"), caller: h.employer, logger: testLogger)
            _ = try await registry.cases.act(id, cmd("propose_decision", "证据确凿", outcome: "upheld"), caller: a1, logger: testLogger)
            await expectError("four_eyes") { try await registry.cases.act(id, cmd("confirm_decision"), caller: a1, logger: testLogger) }
            let decided = try await registry.cases.act(id, cmd("confirm_decision", "同意"), caller: a2, logger: testLogger)
            #expect(decided.state == "notice_period")
            #expect(decided.noticeEndsAt != nil)
            // The worker is notified: one notice queued (a message, no code in it).
            #expect(try await registry.notificationCount("case_decision_notice") == 1)
            #expect(try await registry.lastCode("case_decision_notice") == nil)
            // The worker sees grounds, evidence and timeline; she objects and adds her own evidence.
            let hers = try await registry.cases.get(id, caller: h.worker, logger: testLogger)
            #expect(hers.evidence?.count == 2 && hers.proposedOutcome == nil && (hers.timeline?.count ?? 0) >= 7)
            _ = try await registry.cases.act(id, cmd("object", "录像中不是我"), caller: h.worker, logger: testLogger)
            _ = try await registry.cases.addEvidence(
                id,
                filename: "说明.pdf",
                contentType: "application/pdf",
                bytes: pdfBytes + [0x20],
                description: nil,
                caller: h.worker,
                logger: testLogger
            )
            // Those who took part in the decision cannot review the objection.
            for admin in [a1, a2] {
                await expectError("took_part") { try await registry.cases.act(id, cmd("reject_objection"), caller: admin, logger: testLogger) }
            }
            // A rejected objection does not execute inside the window: the ban waits for its end.
            let rejected = try await registry.cases.act(id, cmd("reject_objection", "异议不成立"), caller: a3, logger: testLogger)
            #expect(rejected.state == "final" && rejected.objection?.outcome == "rejected")
            #expect(try await registry.notificationCount("case_objection_rejected") == 1)
            #expect(try await registry.cases.executeDue(logger: testLogger) == 0)
            #expect(try await registry.workerStatus(h.workerID) == "active")
            #expect(!(try await registry.reports.banStatus(idNumber: Fixtures.idNumber(serial: 101), clientAddress: "t0", logger: testLogger)))
            let ends = try #require(decided.noticeEndsAt)
            #expect(try await registry.cases.executeDue(now: ends.addingTimeInterval(-60), logger: testLogger) == 0)
            #expect(try await registry.cases.executeDue(now: ends.addingTimeInterval(1), logger: testLogger) == 1)
            #expect(try await registry.cases.executeDue(now: ends.addingTimeInterval(2), logger: testLogger) == 0)  // idempotent
            #expect(try await registry.caseState(id) == "executed")
            #expect(try await registry.workerStatus(h.workerID) == "revoked")
            #expect(try await registry.notificationCount("case_opened") == 1)
            #expect(try await registry.notificationCount("case_executed") == 1)
            #expect(try await registry.reports.banStatus(idNumber: Fixtures.idNumber(serial: 101), clientAddress: "t1", logger: testLogger))
            _ = try await registry.grading.drainQueue(logger: testLogger)
            let report = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            #expect(report.standing.revoked && report.grade?.grade == "REVOKED")
            for action in [
                "case.submitted", "case.start_review", "case.propose_decision", "case.confirm_decision", "case.start_notice", "case.object",
                "case.reject_objection", "case.execute", "worker.barred", "case.evidence_added",
            ] {
                #expect(try await registry.auditCount(action) >= 1, "\(action)")
            }
            // Reinstatement: its own case through the same workflow; the ban is lifted, history kept.
            let back = try await registry.cases.fileReinstatement(bannedCase: id, statement: "法院判决撤销", caller: a3, logger: testLogger)
            // Those who took part in the case that barred her, and the administrator who filed it, do not decide it.
            await expectError("conflict_of_interest") { _ = try await registry.cases.act(back, cmd("start_review"), caller: a3, logger: testLogger) }
            _ = try await registry.cases.act(back, cmd("start_review"), caller: a4, logger: testLogger)
            await expectError("took_part") {
                _ = try await registry.cases.act(back, cmd("propose_decision", outcome: "upheld"), caller: a1, logger: testLogger)
            }
            _ = try await registry.cases.act(back, cmd("propose_decision", outcome: "upheld"), caller: a4, logger: testLogger)
            // A decision in her favour takes effect when confirmed, with its own plain notice.
            let reinstated = try await registry.cases.act(back, cmd("confirm_decision"), caller: a5, logger: testLogger)
            #expect(reinstated.state == "executed")
            #expect(try await registry.workerStatus(h.workerID) == "active")
            #expect(try await registry.notificationCount("case_decision_notice") == 1)
            #expect(try await registry.notificationCount("case_reinstated") == 1)
            #expect(!(try await registry.reports.banStatus(idNumber: Fixtures.idNumber(serial: 101), clientAddress: "t2", logger: testLogger)))
            let bans = try await registry.database.query(
                "SELECT count(*)::int FROM bans WHERE worker_id = \(h.workerID) AND lifted_at IS NOT NULL",
                logger: testLogger
            )
            #expect(try await single(bans, Int.self) == 1)
        }
    }

    @Test("execution waits for the notice period; two nodes executing at once bar her once; the lookup flips only after execution")
    func executionTiming() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id) = try await filed(registry)
            let a = try await registry.admins(2)
            _ = try await registry.cases.act(id, cmd("start_review"), caller: a[0], logger: testLogger)
            _ = try await registry.cases.act(id, cmd("propose_decision", outcome: "upheld"), caller: a[0], logger: testLogger)
            let decided = try await registry.cases.act(id, cmd("confirm_decision"), caller: a[1], logger: testLogger)
            #expect(try await registry.cases.executeDue(logger: testLogger) == 0)
            #expect(!(try await registry.reports.banStatus(idNumber: Fixtures.idNumber(serial: 101), clientAddress: "x", logger: testLogger)))
            // The notice period is the case's own (working days by the policy's calendar): nothing a minute before it ends.
            let ends = try #require(decided.noticeEndsAt)
            #expect(ends.timeIntervalSinceNow > Double(registry.policies.revocation.objectionWorkingDays) * 86_400, "at least as many calendar days")
            #expect(try await registry.cases.executeDue(now: ends.addingTimeInterval(-60), logger: testLogger) == 0)
            let later = ends.addingTimeInterval(60)
            async let n1 = registry.cases.executeDue(now: later, logger: testLogger)
            async let n2 = registry.cases.executeDue(now: later, logger: testLogger)
            let (x, y) = try await (n1, n2)
            #expect(x + y == 1)
            #expect(try await registry.caseState(id) == "executed")
            let bans = try await registry.database.query("SELECT count(*)::int FROM bans WHERE worker_id = \(h.workerID)", logger: testLogger)
            #expect(try await single(bans, Int.self) == 1)
            #expect(try await registry.reports.banStatus(idNumber: Fixtures.idNumber(serial: 101), clientAddress: "x", logger: testLogger))
            // After the period, an objection is too late.
            await expectError("illegal_transition") { try await registry.cases.act(id, cmd("object"), caller: h.worker, logger: testLogger) }
        }
    }

    @Test("two administrators confirming the same case at once: exactly one wins")
    func concurrentDecisions() async throws {
        try await withTestRegistry { registry, _ in
            let (_, id) = try await filed(registry)
            let a = try await registry.admins(3)
            _ = try await registry.cases.act(id, cmd("start_review"), caller: a[0], logger: testLogger)
            _ = try await registry.cases.act(id, cmd("propose_decision", outcome: "rejected"), caller: a[0], logger: testLogger)
            async let r1: String = {
                do {
                    _ = try await registry.cases.act(id, cmd("confirm_decision"), caller: a[1], logger: testLogger)
                    return "ok"
                } catch { return "\(error)" }
            }()
            async let r2: String = {
                do {
                    _ = try await registry.cases.act(id, cmd("confirm_decision"), caller: a[2], logger: testLogger)
                    return "ok"
                } catch { return "\(error)" }
            }()
            let results = await [r1, r2]
            #expect(results.filter { $0 == "ok" }.count == 1, "\(results)")
            #expect(try await registry.caseState(id) == "closed")
            let events = try await registry.database.query(
                "SELECT count(*)::int FROM case_events WHERE case_id = \(id) AND command = 'confirm_decision'",
                logger: testLogger
            )
            #expect(try await single(events, Int.self) == 1)
        }
    }

    @Test("evidence: size and type limits (413/415), content must match its type, hash verified on download, parties only")
    func evidence() async throws {
        try await withTestApp { registry, _, client in
            let (h, id) = try await filed(registry)
            let login = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["email": "home@example.cn", "password": "employer password"])
            )
            let bearer = "Bearer \(TestJSON.object(login.body)["token"] as? String ?? "")"
            let pdf = try await client.execute(
                uri: "/api/v1/cases/\(id)/evidence?filename=report.pdf",
                method: .post,
                headers: [.authorization: bearer, .contentType: "application/pdf"],
                body: ByteBuffer(bytes: pdfBytes)
            )
            #expect(pdf.status == .created)
            let evidenceID = try #require(TestJSON.object(pdf.body)["id"] as? String)
            let exe = try await client.execute(
                uri: "/api/v1/cases/\(id)/evidence?filename=x.exe",
                method: .post,
                headers: [.authorization: bearer, .contentType: "application/x-msdownload"],
                body: ByteBuffer(string: "MZ...")
            )
            #expect(exe.status == .unsupportedMediaType)
            let lying = try await client.execute(
                uri: "/api/v1/cases/\(id)/evidence?filename=fake.pdf",
                method: .post,
                headers: [.authorization: bearer, .contentType: "application/pdf"],
                body: ByteBuffer(string: "<html>")
            )
            #expect(lying.status == .unsupportedMediaType)
            let big = try await client.execute(
                uri: "/api/v1/cases/\(id)/evidence?filename=big.pdf",
                method: .post,
                headers: [.authorization: bearer, .contentType: "application/pdf"],
                body: ByteBuffer(bytes: pdfBytes + Array(repeating: 0x20, count: registry.policies.revocation.evidenceMaxBytes))
            )
            #expect(big.status == .contentTooLarge)
            let download = try await client.execute(uri: "/api/v1/evidence/\(evidenceID)", method: .get, headers: [.authorization: bearer])
            #expect(download.status == .ok && Array(download.body.readableBytesView) == pdfBytes)
            #expect(download.headers[.contentDisposition]?.hasPrefix("attachment;") == true)
            #expect(
                try await client.execute(uri: "/api/v1/evidence/..%2F..%2Fetc%2Fpasswd", method: .get, headers: [.authorization: bearer]).status
                    == .notFound
            )
            // Another employer cannot see the case or its evidence.
            _ = try await registry.accounts.registerEmployer(
                .init(
                    email: "nosy@example.cn",
                    phone: nil,
                    password: "employer password",
                    householdName: "X",
                    regionCode: "320102"
                ),
                caller: .system,
                logger: testLogger
            )
            let nosy = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["email": "nosy@example.cn", "password": "employer password"])
            )
            let nosyBearer = "Bearer \(TestJSON.object(nosy.body)["token"] as? String ?? "")"
            #expect(
                try await client.execute(uri: "/api/v1/evidence/\(evidenceID)", method: .get, headers: [.authorization: nosyBearer]).status
                    == .notFound
            )
            #expect(try await client.execute(uri: "/api/v1/cases/\(id)", method: .get, headers: [.authorization: nosyBearer]).status == .notFound)
            // Nor upload to it: the case and the caller are checked before the body is read, so even an
            // oversized body is answered 404 (not 413), and no temporary file is left behind.
            let leftovers = {
                (try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()))?
                    .filter { $0.hasPrefix("registry-evidence-") }.count ?? 0
            }
            let before = leftovers()
            let intrusion = try await client.execute(
                uri: "/api/v1/cases/\(id)/evidence?filename=big.pdf",
                method: .post,
                headers: [.authorization: nosyBearer, .contentType: "application/pdf"],
                body: ByteBuffer(bytes: pdfBytes + Array(repeating: 0x20, count: registry.policies.revocation.evidenceMaxBytes))
            )
            #expect(intrusion.status == .notFound)
            #expect(leftovers() == before)
            // Tampered content is withheld.
            try await asOwnerTamper(registry, evidenceID)
            let tampered = try await client.execute(uri: "/api/v1/evidence/\(evidenceID)", method: .get, headers: [.authorization: bearer])
            #expect(tampered.status == .serviceUnavailable)
            _ = h
        }
    }

    func asOwnerTamper(_ registry: Registry, _ evidenceID: String) async throws {
        let endpoint = EmbeddedPostgres(dataDirectory: TestCluster.folder, port: 5432).endpoint(database: try await currentDatabase(registry))
        try await asOwner(endpoint) { client in
            try await client.query("ALTER TABLE evidence_blobs DISABLE TRIGGER USER", logger: testLogger)
            try await client.query(
                """
                UPDATE evidence_blobs SET content = content || '\\x00'::bytea
                WHERE sha256 = (SELECT sha256 FROM evidence WHERE id = \(UUID(uuidString: evidenceID)!))
                """,
                logger: testLogger
            )
        }
    }

    func currentDatabase(_ registry: Registry) async throws -> String {
        for try await name in try await registry.database.query("SELECT current_database()", logger: testLogger).decode(String.self) { return name }
        return ""
    }
}
