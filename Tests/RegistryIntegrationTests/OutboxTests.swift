import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@Suite("The outbox")
struct OutboxTests {
    /// Queues `n` SMS messages with codes, each with its own key.
    func queue(_ registry: Registry, _ n: Int, kind: String = "consent_code") async throws -> [String] {
        var codes: [String] = []
        try await registry.database.transaction(logger: testLogger) { connection in
            for i in 0..<n {
                let code = String(format: "%06d", 314_159 + i * 7)
                codes.append(code)
                try await NotificationStore.enqueue(
                    channel: "sms",
                    recipient: "1390000\(String(format: "%04d", i))",
                    template: kind,
                    payload: ["code": code, "minutes": "30"],
                    key: "test-\(i)",
                    on: connection,
                    logger: testLogger
                )
            }
        }
        return codes
    }

    func status(_ registry: Registry, key: String) async throws -> (String, Int, String?) {
        let rows = try await registry.database.query(
            "SELECT status, attempts, last_error FROM notifications WHERE idempotency_key = \(key)",
            logger: testLogger
        )
        var found: [(String, Int, String?)] = []
        for try await row in rows.decode((String, Int, String?).self) { found.append(row) }
        try #require(found.count == 1)
        return found[0]
    }

    func rows(_ registry: Registry, _ sql: PostgresQuery) async throws -> Int {
        try await single(try await registry.database.query(sql, logger: testLogger), Int.self)
    }

    /// Makes every waiting message due now (the backoff has been checked already).
    func makeDue(_ registry: Registry) async throws {
        try await registry.database.query("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'", logger: testLogger)
    }

    @Test("a message queued twice under one key is one message; it is rendered in its language and delivered once")
    func idempotentQueueing() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await queue(registry, 1)
            _ = try await queue(registry, 1)  // same key again
            #expect(try await rows(registry, "SELECT count(*)::int FROM notifications WHERE idempotency_key = 'test-0'") == 1)
            let channel = RecordingChannel()
            let dispatcher = registry.outboxDispatcher(channels: ["sms": channel])
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 1)
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 0)
            #expect(channel.sent.map(\.key) == ["test-0"])
            #expect(channel.sent.first?.text.contains("314159") == true && channel.sent.first?.text.hasPrefix("【家政信用档案】") == true)
            #expect(try await status(registry, key: "test-0").0 == "sent")
        }
    }

    @Test("a gateway that is down: each failure waits longer (backoff with jitter), the message is sent once it is back, never twice")
    func retriesWithBackoff() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await queue(registry, 1)
            let channel = RecordingChannel(failing: 3)
            let policy = registry.policies.messages
            let dispatcher = OutboxDispatcher(
                database: registry.database,
                policy: policy,
                templates: registry.messageTemplates,
                channels: ["sms": channel],
                jitter: { 1 }
            )
            // The database's clock just before and just after each failed attempt: the failure is
            // recorded between the two, so the wait it set lies between these bounds however
            // slowly a loaded machine runs the test.
            func databaseNow() async throws -> Double {
                try await single(
                    try await registry.database.query("SELECT extract(epoch FROM clock_timestamp())::float8", logger: testLogger),
                    Double.self
                )
            }
            var waits: [(atLeast: Double, atMost: Double)] = []
            for attempt in 1...3 {
                let before = try await databaseNow()
                #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 1)
                let after = try await databaseNow()
                #expect(try await status(registry, key: "test-0") == ("pending", attempt, "http_503"))
                // Not due again before its time.
                #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 0)
                let next = try await single(
                    try await registry.database.query(
                        "SELECT extract(epoch FROM next_attempt_at)::float8 FROM notifications WHERE idempotency_key = 'test-0'",
                        logger: testLogger
                    ),
                    Double.self
                )
                waits.append((next - after, next - before))
                try await makeDue(registry)
            }
            // With jitter at its top the waits are base, 2·base, 4·base.
            let base = Double(policy.backoffBaseSeconds)
            for (i, w) in waits.enumerated() {
                let expected = base * pow(2, Double(i))
                #expect(w.atLeast - 0.01 <= expected && expected <= w.atMost + 0.01, "wait \(i): \(w), expected \(expected)")
            }
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 1)
            #expect(channel.sent.count == 1)
            #expect(try await status(registry, key: "test-0") == ("sent", 4, nil))
        }
    }

    @Test("after the policy's attempts, or a refusal no retry can mend, a message is a dead letter; an administrator sends it again")
    func deadLetters() async throws {
        var policies = try PolicySet.load(directory: repositoryRoot + "/Policies")
        policies.messages.maxAttempts = 2
        try await withTestRegistry(policies: policies) { registry, _ in
            _ = try await queue(registry, 2)
            let down = registry.outboxDispatcher(channels: ["sms": RecordingChannel(failing: 100)])
            #expect(try await down.dispatchOnce(logger: testLogger) == 2)
            try await makeDue(registry)
            #expect(try await down.dispatchOnce(logger: testLogger) == 2)
            #expect(try await status(registry, key: "test-0") == ("dead", 2, "http_503"))
            try await makeDue(registry)
            #expect(try await down.dispatchOnce(logger: testLogger) == 0)  // dead letters wait for a person

            let overview = try await registry.messages.overview(logger: testLogger)
            #expect(overview.counts["dead"] == 2 && overview.dead.count == 2)
            #expect(overview.dead.allSatisfy { $0.recipient.contains("****") && $0.lastError == "http_503" })
            let admin = try await registry.adminCaller
            try await registry.messages.retry(overview.dead[0].id, caller: admin, logger: testLogger)
            await expectError("not_found") { try await registry.messages.retry(overview.dead[0].id, caller: admin, logger: testLogger) }
            #expect(try await registry.auditCount("message.retried") == 1)
            let back = RecordingChannel()
            #expect(try await registry.outboxDispatcher(channels: ["sms": back]).dispatchOnce(logger: testLogger) == 1)
            #expect(back.sent.count == 1)

            // A refusal (a number the gateway will never take) is dead at once.
            _ = try await queue(registry, 3)
            let refusing = registry.outboxDispatcher(channels: ["sms": RecordingChannel(failing: 100, retryable: false)])
            #expect(try await refusing.dispatchOnce(logger: testLogger) == 1)
            #expect(try await status(registry, key: "test-2") == ("dead", 1, "refused"))
        }
    }

    @Test("a dispatcher that dies between sending and marking: its lease runs out and the message goes again with the same key")
    func leaseTakeover() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await queue(registry, 1)
            // The first node claims it (and, say, the gateway accepted it) — then the node is gone.
            let claimed = try await NotificationStore.claimDue(limit: 10, leaseSeconds: 60, database: registry.database, logger: testLogger)
            #expect(claimed.map(\.key) == ["test-0"])
            let channel = RecordingChannel()
            let dispatcher = registry.outboxDispatcher(channels: ["sms": channel])
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 0)  // held while the lease runs
            try await registry.database.query("UPDATE notifications SET lease_until = now() - interval '1 second'", logger: testLogger)
            #expect(try await dispatcher.dispatchOnce(logger: testLogger) == 1)
            #expect(channel.sent.map(\.key) == ["test-0"])  // the key the gateway drops a repeat by
            #expect(try await status(registry, key: "test-0") == ("sent", 2, nil))
        }
    }

    @Test("two dispatchers at once: every message is delivered exactly once")
    func concurrentDispatchers() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await queue(registry, 120)
            let a = RecordingChannel()
            let b = RecordingChannel()
            let one = registry.outboxDispatcher(channels: ["sms": a])
            let two = registry.outboxDispatcher(channels: ["sms": b])
            async let first: Void = { while try await one.dispatchOnce(logger: testLogger) > 0 {} }()
            async let second: Void = { while try await two.dispatchOnce(logger: testLogger) > 0 {} }()
            _ = try await (first, second)
            let keys = (a.sent + b.sent).map(\.key)
            #expect(keys.count == 120 && Set(keys).count == 120)
            #expect(try await rows(registry, "SELECT count(*)::int FROM notifications WHERE status = 'sent'") == 120)
        }
    }

    @Test("the dispatcher's log lines name the message, its kind and a masked recipient: never a code, a text or a number")
    func logsHoldNoSecrets() async throws {
        try await withTestRegistry { registry, _ in
            let codes = try await queue(registry, 6)
            let capture = LogCapture()
            var logger = Logger(label: "outbox-test") { _ in CapturingLogHandler(capture: capture) }
            logger.logLevel = .trace
            let channel = RecordingChannel(failing: 2)
            let dispatcher = registry.outboxDispatcher(channels: ["sms": channel])
            while try await dispatcher.dispatchOnce(logger: logger) > 0 { try await makeDue(registry) }
            #expect(channel.sent.count == 6)
            let text = capture.text
            #expect(text.contains("message sent") && text.contains("will retry") && text.contains("139****0000"))
            for code in codes { #expect(!text.contains(code), "code \(code) in the log") }
            #expect(!text.contains("13900000000") && !text.contains("家政信用档案"))
        }
    }

    @Test("every message kind has its text in both languages, fills every placeholder, and an SMS fits the policy's segments")
    func templates() throws {
        let templates = try MessageTemplates.load(directory: repositoryRoot + "/Web/i18n/messages")
        let policy = try PolicySet.load(directory: repositoryRoot + "/Policies").messages
        // Long but real values: a 20-character agency name, six-digit codes, a long grounds text.
        let parameters = [
            "code": "908172", "minutes": "1440", "agency": String(repeating: "家", count: 20), "grounds": "虐待、殴打被照护的老人或儿童",
            "last_day": "2026-12-31", "reference": "POLICE-2026-000123", "note": "核实有误", "date": "2026-12-31",
            "source": String(repeating: "公", count: 12), "category": "盗窃", "worker": "欧阳春梅", "days": "14", "title": "育婴员（四级）", "status": "已立案或起诉",
            "from": String(repeating: "家", count: 20),
            "to": String(repeating: "政", count: 20), "reason": "材料不全", "what": "手机号码", "new": "139****5678", "appeal_until": "2027-02-28",
            "points": "12", "proposal": "暂停机构", "outcome": "暂停机构", "proposal_en": "suspend the agency", "outcome_en": "suspend the agency",
            "offence": "知悉服务人员违法失信情况而未报告",
            "offence_en": "It knew of an offence or breach of trust by a worker and did not report it",
        ]
        let smsKinds: Set = [
            "worker_activation_code", "transfer_consent_code", "consent_code", "case_decision_notice", "case_opened", "case_executed",
            "case_reinstated", "flag_expired", "review_received", "review_dispute_upheld", "review_dispute_rejected", "flag_received", "flag_changed",
            "flag_dispute_annotated", "flag_dispute_retraction_requested", "flag_dispute_rejected", "contact_change_code", "phone_verification_code",
            "contact_changed",
            "contact_changed_by_admin", "case_objection_rejected", "case_closed", "case_reinstatement_refused", "case_appeal_upheld",
            "case_appeal_rejected", "tenure_dispute_upheld", "tenure_dispute_rejected", "repair_approved", "repair_refused",
        ]
        for kind in templates.kinds.sorted() {
            for language in MessageTemplates.languages {
                let text = try #require(templates.render(kind, language: language, parameters), "\(kind)")
                #expect(!text.contains("{") && !text.contains("}"), "\(kind) \(language): \(text)")
                if smsKinds.contains(kind) {
                    #expect(SMSText.segments(text) <= policy.smsMaxSegments, "\(kind) \(language): \(SMSText.segments(text)) segments: \(text)")
                }
            }
        }
        #expect(templates.kinds.isSuperset(of: smsKinds))
    }
}
