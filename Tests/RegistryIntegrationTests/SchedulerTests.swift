import Foundation
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@Suite("The scheduler's jobs as time passes")
struct SchedulerTests {
    func grade(_ registry: Registry, _ worker: WorkerID) async throws -> (asOf: String, reasons: String) {
        let rows = try await registry.database.query(
            "SELECT as_of::text, reasons::text FROM grades WHERE worker_id = \(worker)",
            logger: testLogger
        )
        for try await row in rows.decode((String, String).self) { return (row.0, row.1) }
        return ("", "")
    }

    func drain(_ registry: Registry) async throws {
        while try await registry.grading.drainQueue(logger: testLogger) > 0 {}
    }

    @Test(
        "a health certificate: the agency is told 30 days before it expires, once; on the first day past it the grade says so, with no request; each run is recorded"
    )
    func certificateExpiry() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let start = registry.clock.today
            _ = try await registry.workers.addHealthCertificate(
                h.workerID,
                .init(
                    issuer: "市妇幼保健院",
                    certificateNo: nil,
                    issuedOn: start.adding(days: -300).iso,
                    validUntil: start.adding(days: 40).iso,
                    result: "fit"
                ),
                caller: h.agency,
                logger: testLogger
            )
            try await drain(registry)
            let scheduler = registry.scheduler
            #expect(try await grade(registry, h.workerID).asOf == start.iso)
            #expect(!(try await grade(registry, h.workerID).reasons.contains(GradeReasonCode.healthMissing)))

            // 40 days out: no notice yet.
            #expect(try await scheduler.run("credential-expiry", logger: testLogger).rows == 0)
            registry.clock.advance(days: 10)
            #expect(try await scheduler.run("credential-expiry", logger: testLogger).rows == 1)
            #expect(try await scheduler.run("credential-expiry", logger: testLogger).rows == 0)  // once
            #expect(try await registry.notificationCount("health_certificate_expiring") == 1)
            let recipient = try await single(
                try await registry.database.query(
                    "SELECT recipient FROM notifications WHERE template = 'health_certificate_expiring'",
                    logger: testLogger
                ),
                String.self
            )
            #expect(recipient == "staff1@agency.cn")

            // Its last valid day still counts; the day after, the grade reflects the expiry.
            registry.clock.advance(days: 30)
            #expect(try await scheduler.run("grade-refresh", logger: testLogger).rows == 0)
            registry.clock.advance(days: 1)
            #expect(try await scheduler.run("grade-refresh", logger: testLogger).rows == 1)
            let after = try await grade(registry, h.workerID)
            #expect(after.asOf == start.adding(days: 41).iso)
            #expect(after.reasons.contains(GradeReasonCode.healthMissing))
            #expect(try await scheduler.run("grade-refresh", logger: testLogger).rows == 0)  // once

            // The record: every job listed, with its runs, rows and day.
            let status = try await scheduler.status(logger: testLogger)
            #expect(status.map(\.name) == SchedulePolicy.jobNames)
            let credential = try #require(status.first { $0.name == "credential-expiry" })
            #expect(credential.runs == 3 && credential.failures == 0 && credential.lastRows == 0 && credential.lastAsOf == start.adding(days: 10).iso)
            let refresh = try #require(status.first { $0.name == "grade-refresh" })
            #expect(refresh.runs == 3 && refresh.lastAsOf == start.adding(days: 41).iso && refresh.lastError == nil)
            #expect(try #require(status.first { $0.name == "housekeeping" }).runs == 0)
            await expectError("no_such_job") { _ = try await scheduler.run("nightly", logger: testLogger) }
        }
    }

    @Test("grades resting on reviews or ratings are computed again once they are the policy's days old; a grade time cannot change is left alone")
    func decayRefresh() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let rated = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber(serial: 501)), caller: agency, logger: testLogger)
            let plain = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber(serial: 502)), caller: agency, logger: testLogger)
            try await registry.database.query("UPDATE tenures SET ethics_rating = 5 WHERE worker_id = \(rated)", logger: testLogger)
            try await drain(registry)
            let days = registry.policies.schedule.gradeRefreshDays
            registry.clock.advance(days: days - 1)
            #expect(try await registry.scheduler.run("grade-refresh", logger: testLogger).rows == 0)
            registry.clock.advance(days: 1)
            #expect(try await registry.scheduler.run("grade-refresh", logger: testLogger).rows == 1)
            #expect(try await grade(registry, rated).asOf == registry.clock.today.iso)
            #expect(try await grade(registry, plain).asOf != registry.clock.today.iso)
        }
    }

    @Test("the objection window ends: with no request, the case-deadlines job finalizes and executes the decision")
    func objectionWindowEnds() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id) = try await registry.filedCase()
            let a = try await registry.admins(2)
            func act(_ c: String, outcome: String? = nil, _ admin: Caller) async throws -> CaseService.View {
                try await registry.cases.act(id, .init(command: c, reason: "理由", outcome: outcome), caller: admin, logger: testLogger)
            }
            _ = try await act("start_review", a[0])
            _ = try await act("propose_decision", outcome: "upheld", a[0])
            let decided = try await act("confirm_decision", a[1])
            let ends = try #require(decided.noticeEndsAt)
            #expect(try await registry.scheduler.run("case-deadlines", logger: testLogger).rows == 0)
            registry.clock.advance(by: ends.timeIntervalSince(registry.clock.now) - 60)
            #expect(try await registry.scheduler.run("case-deadlines", logger: testLogger).rows == 0)
            registry.clock.advance(by: 120)
            #expect(try await registry.scheduler.run("case-deadlines", logger: testLogger).rows == 1)
            #expect(try await registry.caseState(id) == "executed")
            #expect(try await registry.workerStatus(h.workerID) == "revoked")
        }
    }

    @Test("sessions left idle longer than the policy are ended by housekeeping; one in use is not")
    func idleSessionsEnd() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await registry.makeUser(email: "idle@example.cn", password: "correct horse battery")
            _ = try await registry.auth.login(
                .email("idle@example.cn"),
                password: "correct horse battery",
                clientAddress: "203.0.113.7",
                presentedToken: nil,
                requestID: nil,
                logger: testLogger
            )
            func open() async throws -> Int {
                try await single(
                    try await registry.database.query("SELECT count(*)::int FROM sessions WHERE revoked_at IS NULL", logger: testLogger),
                    Int.self
                )
            }
            #expect(try await registry.scheduler.run("housekeeping", logger: testLogger).rows == 0)
            #expect(try await open() == 1)
            registry.clock.advance(by: Double(registry.policies.authentication.sessionIdleMinutes * 60 + 60))
            #expect(try await registry.scheduler.run("housekeeping", logger: testLogger).rows == 1)
            #expect(try await open() == 0)
        }
    }

    @Test("the audit checkpoint job signs the head into the database and the checkpoint folder, only when it moved")
    func auditCheckpoint() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await registry.approvedAgency(1)
            #expect(try await registry.scheduler.run("audit-checkpoint", logger: testLogger).rows == 1)
            #expect(try await registry.scheduler.run("audit-checkpoint", logger: testLogger).rows == 0)
            let saved = try registry.audit.savedCheckpoints()
            #expect(saved.count == 1 && saved[0].signature?.count == 64)
            guard case .intact = try await registry.audit.verify(logger: testLogger) else {
                Issue.record("the chain must verify against its own checkpoint")
                return
            }
        }
    }
}
