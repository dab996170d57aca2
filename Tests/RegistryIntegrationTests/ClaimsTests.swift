import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import RegistryDomain
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// What the README promises and no other suite checked: each test names the claim it proves.
@Suite("README claims")
struct ClaimsTests {
    func cmd(_ c: String, _ reason: String = "理由") -> CaseService.Command { .init(command: c, reason: reason, outcome: nil) }

    func filed(_ registry: Registry) async throws -> (Household, CaseID) { try await registry.filedCase() }

    func workerStatus(_ registry: Registry, _ id: WorkerID) async throws -> String {
        try await single(try await registry.database.query("SELECT status FROM workers WHERE id = \(id)", logger: testLogger), String.self)
    }

    @Test(
        "interim suspension: an administrator suspends her while the case is open (her status and report show it), cannot do it twice, and lifts it"
    )
    func interimSuspension() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id) = try await filed(registry)
            let admin = try await registry.adminCaller
            try await registry.cases.suspend(id, reason: "调查期间暂停派单", caller: admin, logger: testLogger)
            #expect(try await workerStatus(registry, h.workerID) == "suspended")
            #expect(try await registry.auditCount("worker.suspended", subject: h.workerID.uuid) == 1)
            let open = try await registry.database.query(
                "SELECT count(*)::int FROM suspensions WHERE case_id = \(id) AND lifted_at IS NULL AND reason = '调查期间暂停派单'",
                logger: testLogger
            )
            #expect(try await single(open, Int.self) == 1)
            await expectError("already_suspended") { try await registry.cases.suspend(id, reason: "再次", caller: admin, logger: testLogger) }
            // Placing her now is refused.
            await expectError("not_active") {
                _ = try await registry.engagements.place(
                    .init(
                        workerId: h.workerID.uuid,
                        employerEmail: "home@example.cn",
                        employerPhone: nil,
                        category: "nanny",
                        startsOn: "2026-02-01"
                    ),
                    caller: h.agency,
                    logger: testLogger
                )
            }
            try await registry.cases.liftSuspension(id, reason: "证据不足以暂停", caller: admin, logger: testLogger)
            #expect(try await workerStatus(registry, h.workerID) == "active")
            #expect(try await registry.auditCount("worker.suspension_lifted", subject: h.workerID.uuid) == 1)
            let lifted = try await registry.database.query(
                "SELECT count(*)::int FROM suspensions WHERE case_id = \(id) AND lifted_at IS NOT NULL AND lift_reason = '证据不足以暂停'",
                logger: testLogger
            )
            #expect(try await single(lifted, Int.self) == 1)
            await expectError("not_suspended") { try await registry.cases.liftSuspension(id, reason: "again", caller: admin, logger: testLogger) }
            // Only administrators decide it.
            await expectError("forbidden") { try await registry.cases.suspend(id, reason: "x", caller: h.employer, logger: testLogger) }
        }
    }

    @Test("the requester withdraws her case before the decision: it is withdrawn, takes no more steps, and the worker is not barred")
    func withdraw() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id) = try await filed(registry)
            let admin = try await registry.adminCaller
            _ = try await registry.cases.act(id, cmd("start_review"), caller: admin, logger: testLogger)
            let withdrawn = try await registry.cases.act(id, cmd("withdraw", "已与家政公司协商解决"), caller: h.employer, logger: testLogger)
            #expect(withdrawn.state == "withdrawn")
            #expect(try await registry.caseState(id) == "withdrawn")
            await expectError("illegal_transition") { _ = try await registry.cases.act(id, cmd("start_review"), caller: admin, logger: testLogger) }
            #expect(try await registry.cases.executeDue(now: Date().addingTimeInterval(60 * 86_400), logger: testLogger) == 0)
            #expect(try await workerStatus(registry, h.workerID) == "active")
            #expect(!(try await registry.reports.banStatus(idNumber: Fixtures.idNumber(serial: 101), clientAddress: "x", logger: testLogger)))
        }
    }

    @Test("evidence is capped per party by policy: the requester's next file is refused, and she can still file her defence")
    func evidenceQuota() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id) = try await filed(registry)
            let limit = registry.policies.revocation.evidencePerParty
            #expect(limit >= 1 && limit <= 100)
            for i in 0..<limit {
                _ = try await registry.cases.addEvidence(
                    id,
                    filename: "记录\(i).pdf",
                    contentType: "application/pdf",
                    bytes: pdfBytes + Array(repeating: 0x20, count: i + 1),
                    description: nil,
                    caller: h.employer,
                    logger: testLogger
                )
            }
            await expectError("evidence_limit") {
                _ = try await registry.cases.addEvidence(
                    id,
                    filename: "多余.pdf",
                    contentType: "application/pdf",
                    bytes: pdfBytes + [0x0A],
                    description: nil,
                    caller: h.employer,
                    logger: testLogger
                )
            }
            let stored = try await registry.database.query("SELECT count(*)::int FROM evidence WHERE case_id = \(id)", logger: testLogger)
            #expect(try await single(stored, Int.self) == limit)
            // The requester's side is full; hers is not: her defence is received.
            let defence = try await registry.cases.addEvidence(
                id,
                filename: "工资记录.pdf",
                contentType: "application/pdf",
                bytes: pdfBytes + [0x0B],
                description: "我的说明",
                caller: h.worker,
                logger: testLogger
            )
            #expect(defence.party == "worker")
            let view = try await registry.cases.get(id, caller: h.worker, logger: testLogger)
            #expect(view.evidence?.filter { $0.party == "requester" }.count == limit)
            // Each side answers the other's files, not its own.
            let theirs = try #require(view.evidence?.first { $0.party == "requester" })
            try await registry.cases.answerEvidence(UUID(uuidString: theirs.id)!, body: "这张照片不是在雇主家拍的。", caller: h.worker, logger: testLogger)
            await expectError("own_evidence") {
                try await registry.cases.answerEvidence(UUID(uuidString: defence.id)!, body: "补充", caller: h.worker, logger: testLogger)
            }
            let answered = try await registry.cases.get(id, caller: h.employer, logger: testLogger)
            #expect(answered.answers?[theirs.id]?.first?.party == "worker")
        }
    }

    @Test("resend-code: a new code is sent and works, the old one no longer does, and sends are capped by policy")
    func resendCode() async throws {
        try await withTestRegistry { registry, _ in
            let (_, a) = try await registry.approvedAgency(1)
            let (_, b) = try await registry.approvedAgency(2)
            let id = Fixtures.idNumber(serial: 360)
            _ = try await registry.workers.register(Fixtures.registration(id, phone: "13900139000"), caller: a, logger: testLogger)
            let tid = try #require(UUID(uuidString: try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger).transfer.id))
            let first = try #require(try await registry.lastConsentCode())
            #expect(try await registry.notificationCount("transfer_consent_code") == 1)
            #expect(try await registry.transfers.resendCode(tid, caller: b, logger: testLogger))
            #expect(try await registry.notificationCount("transfer_consent_code") == 2)
            #expect(try await registry.auditCount("transfer.code_resent") == 1)
            let second = try #require(try await registry.lastConsentCode())
            if first != second {
                await expectError("wrong_code") { _ = try await registry.transfers.consent(tid, code: first, caller: b, logger: testLogger) }
            }
            // Only the requesting agency sends codes.
            await expectError("not_a_party") { _ = try await registry.transfers.resendCode(tid, caller: a, logger: testLogger) }
            // Up to the policy's number of codes in all (the first included).
            for _ in 2..<registry.policies.custody.consentCodeSends {
                #expect(try await registry.transfers.resendCode(tid, caller: b, logger: testLogger))
            }
            await expectError("codes_exhausted") { _ = try await registry.transfers.resendCode(tid, caller: b, logger: testLogger) }
            #expect(try await registry.notificationCount("transfer_consent_code") == registry.policies.custody.consentCodeSends)
            let latest = try #require(try await registry.lastConsentCode())
            #expect(try await registry.transfers.consent(tid, code: latest, caller: b, logger: testLogger).status == "consented")
        }
    }

    /// The first tenure on the agency's report of a worker it has just assessed in full.
    func assessedTenure(_ registry: Registry, ethicsNote: String) async throws -> ReportService.Report.Tenure {
        let h = try await Household.make(registry)
        try await registry.workers.assess(
            h.workerID,
            .init(
                workAbility: "能独立完成育儿工作",
                healthStatus: "良好",
                feedbackSummary: "认真负责",
                ethicsRating: 5,
                ethicsNote: ethicsNote
            ),
            caller: h.agency,
            logger: testLogger
        )
        let report = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
        return try #require(report.tenures.first)
    }

    @Test("report_tenure_fields decides which tenure fields an employer's report shows")
    func reportTenureFields() async throws {
        var policies = try PolicySet.load(directory: repositoryRoot + "/Policies")
        policies.custody.reportTenureFields = ["agency", "ethics_rating"]
        try await withTestRegistry(policies: policies) { registry, _ in
            let tenure = try await assessedTenure(registry, ethicsNote: "无")
            #expect(tenure.agency != nil && tenure.ethicsRating == 5)
            #expect(tenure.workAbility == nil && tenure.feedbackSummary == nil && tenure.healthStatus == nil && tenure.ethicsNote == nil)
            #expect(tenure.startedOn == nil && tenure.sealed == nil)
        }
        // The shipped policy shows the period and the work ability, and never the private ethics note.
        try await withTestRegistry { registry, _ in
            let tenure = try await assessedTenure(registry, ethicsNote: "内部备注")
            let shown = Set(registry.policies.custody.reportTenureFields)
            #expect((tenure.startedOn != nil) == shown.contains("period") && (tenure.workAbility != nil) == shown.contains("work_ability"))
            #expect((tenure.ethicsNote != nil) == shown.contains("ethics_note"))
        }
    }

    @Test("an unknown account costs a password hash like a real one (the decoy), and gets the same answer as a wrong password")
    func decoyHash() async throws {
        let hasher = PasswordHasher(parameters: testHasher.parameters, concurrency: 10_000)
        try await withTestRegistry(hasher: hasher) { registry, _ in
            _ = try await registry.makeUser(email: "real@example.cn", password: "the right password")
            func attempt(_ email: String) async throws -> (code: String?, hashes: Int) {
                let before = hasher.gate.completed
                var code: String?
                do {
                    _ = try await registry.auth.login(
                        .email(email),
                        password: "a wrong password",
                        clientAddress: "203.0.113.7",
                        presentedToken: nil,
                        requestID: nil,
                        logger: testLogger
                    )
                } catch let error as RegistryError { code = error.code }
                return (code, hasher.gate.completed - before)
            }
            let wrong = try await attempt("real@example.cn")
            let unknown = try await attempt("nobody@example.cn")
            #expect(wrong.hashes == 1 && unknown.hashes == 1, "a hash for each: \(wrong.hashes) and \(unknown.hashes)")
            #expect(wrong.code == "invalid_credentials" && unknown.code == wrong.code)
        }
    }

    @Test("a delivered message's payload (its code) is cleared from the outbox; it reached the channel first")
    func payloadCleared() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            _ = try await registry.consents.issueByAgency(h.workerID, caller: h.agency, logger: testLogger)
            let pending = try await registry.database.query(
                "SELECT count(*)::int FROM notifications WHERE sent_at IS NULL AND payload <> '{}'::jsonb",
                logger: testLogger
            )
            let queued = try await single(pending, Int.self)
            #expect(queued >= 2, "the activation code and the consent code wait with their payloads")
            let recorder = RecordingChannel()
            let dispatcher = registry.outboxDispatcher(channels: ["sms": recorder, "email": recorder])
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == queued)
            #expect(recorder.sent.count == queued && recorder.sent.allSatisfy { !$0.text.isEmpty && !$0.text.contains("{") })
            let left = try await registry.database.query(
                """
                SELECT count(*)::int FROM notifications WHERE sent_at IS NULL OR payload <> '{}'::jsonb OR status <> 'sent'
                """,
                logger: testLogger
            )
            #expect(try await single(left, Int.self) == 0)
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 0)
        }
    }

    @Test("every answer, JSON, page or error, says nosniff, with a CSP and no-store where it matters")
    func securityHeaders() async throws {
        try await withTestApp { _, _, client in
            for (uri, method) in [
                ("/api/v1/auth/me", HTTPRequest.Method.get), ("/health/live", .get), ("/login", .get), ("/api/v1/nothing-here", .get),
                ("/api/v1/auth/login", .post),
            ] {
                let response = try await client.execute(
                    uri: uri,
                    method: method,
                    headers: [.contentType: "application/json"],
                    body: method == .post ? ByteBuffer(string: "{nope") : nil
                )
                #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(uri): \(response.status)")
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src") == true, "\(uri)")
            }
            let me = try await client.execute(uri: "/api/v1/auth/me", method: .get)
            #expect(me.headers[.cacheControl]?.contains("no-store") == true)
        }
    }
}

/// A channel that keeps what it was given (the delivery side only; the outbox is the real table).
final class RecordingChannel: MessageChannel, @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [OutgoingMessage] = []
    /// Fails this many sends first (a gateway that is down), then accepts.
    private var failuresLeft: Int
    let retryable: Bool

    init(failing failures: Int = 0, retryable: Bool = true) {
        self.failuresLeft = failures
        self.retryable = retryable
    }

    var sent: [OutgoingMessage] { lock.withLock { messages } }

    func send(_ message: OutgoingMessage, logger: Logger) async throws -> String? {
        try lock.withLock {
            if failuresLeft > 0 {
                failuresLeft -= 1
                throw DeliveryError(retryable ? "http_503" : "refused", retryable: retryable)
            }
            messages.append(message)
        }
        return "provider-\(message.id)"
    }
}
