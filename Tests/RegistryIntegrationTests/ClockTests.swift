import Foundation
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@Suite("The registry's clock")
struct ClockTests {
    @Test("every service reads the registry's one clock: moved past a health certificate's last valid day, the file and the report show it lapsed")
    func movedClock() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let today = registry.clock.today
            _ = try await registry.workers.addHealthCertificate(
                h.workerID,
                .init(
                    issuer: "市妇幼保健院",
                    certificateNo: nil,
                    issuedOn: today.adding(days: -30).iso,
                    validUntil: today.adding(days: 10).iso,
                    result: "fit"
                ),
                caller: h.agency,
                logger: testLogger
            )
            #expect(try await registry.workers.file(h.workerID, caller: h.agency, logger: testLogger).healthCertificates.map(\.valid) == [true])
            #expect(try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger).health.valid == true)

            registry.clock.advance(days: 10)
            #expect(registry.clock.today == today.adding(days: 10))
            #expect(try await registry.workers.file(h.workerID, caller: h.agency, logger: testLogger).healthCertificates.map(\.valid) == [true])

            registry.clock.advance(days: 1)
            #expect(try await registry.workers.file(h.workerID, caller: h.agency, logger: testLogger).healthCertificates.map(\.valid) == [false])
            let report = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            #expect(report.health.valid == false)
            #expect(report.generatedAt.date.timeIntervalSinceNow > 10 * 86_400)
        }
    }

    @Test(
        "a flag's last day passes: with no request, the expiry job lifts the suspension it caused, drops it from the report, regrades her and audits it, once"
    )
    func flagExpires() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let id = Fixtures.idNumber()
            let worker = try await registry.workers.register(Fixtures.registration(id), caller: agency, logger: testLogger)
            let (sourceID, _, _, police) = try await registry.source("police-t", kind: "police")
            let lastDay = registry.clock.today.adding(days: 5)
            let created = try await registry.flags.submit(
                [flag(id, "T-1", expires: lastDay.iso)],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            #expect(created.map(\.outcome) == [.created])
            #expect(try await registry.workerStatus(worker) == "suspended")
            _ = try await registry.grading.drainQueue(logger: testLogger)
            #expect(try await registry.reports.report(worker, caller: agency, logger: testLogger).flags.count == 1)

            // Nothing is due while the flag is in force, up to and including its last day.
            #expect(try await registry.flags.expireDue(logger: testLogger) == 0)
            registry.clock.advance(days: 5)
            #expect(try await registry.flags.expireDue(logger: testLogger) == 0)
            #expect(try await registry.workerStatus(worker) == "suspended")

            registry.clock.advance(days: 1)
            #expect(try await registry.flags.expireDue(logger: testLogger) == 1)
            #expect(try await registry.flags.expireDue(logger: testLogger) == 0)  // once
            #expect(try await registry.workerStatus(worker) == "active")
            #expect(try await registry.auditCount("flag.expired") == 1)
            #expect(try await registry.notificationCount("flag_expired") == 1)
            #expect(try await registry.auditCount("worker.suspension_lifted") == 1)
            #expect(try await registry.count("SELECT count(*)::int FROM grade_queue WHERE worker_id = $1", worker.uuid) == 1)
            _ = try await registry.grading.drainQueue(logger: testLogger)
            #expect(try await registry.reports.report(worker, caller: agency, logger: testLogger).flags.isEmpty)

            // Extended by its source after expiry: in force again, and handled again when it passes.
            let extended = try await registry.flags.change(
                sourceID: sourceID,
                reference: "T-1",
                .init(status: nil, severity: nil, expiresOn: registry.clock.today.adding(days: 3).iso),
                caller: police,
                logger: testLogger
            )
            #expect(extended.outcome == .updated)
            #expect(try await registry.workerStatus(worker) == "suspended")
            registry.clock.advance(days: 4)
            #expect(try await registry.flags.expireDue(logger: testLogger) == 1)
            #expect(try await registry.workerStatus(worker) == "active")
            #expect(try await registry.notificationCount("flag_expired") == 2)  // told again, for the new last day
        }
    }

    @Test("housekeeping prunes ended sessions, spent throttle and rate-limit rows and nonces once their time has passed, and nothing sooner")
    func housekeeping() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await registry.makeUser(email: "keep@example.cn", password: "correct horse battery")
            for _ in 0..<3 {
                _ = try await registry.auth.login(
                    .email("keep@example.cn"),
                    password: "correct horse battery",
                    clientAddress: "203.0.113.9",
                    presentedToken: nil,
                    requestID: nil,
                    logger: testLogger
                )
            }
            _ = try await registry.reports.banStatus(idNumber: Fixtures.idNumber(), clientAddress: "203.0.113.9", logger: testLogger)
            func rows(_ table: String) async throws -> Int {
                try await single(
                    try await registry.database.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), logger: testLogger),
                    Int.self
                )
            }
            let before = (sessions: try await rows("sessions"), rateLimits: try await rows("rate_limits"), throttle: try await rows("login_throttle"))
            #expect(before.sessions == 3 && before.rateLimits >= 1 && before.throttle >= 1)

            // Within their time nothing goes.
            #expect(try await registry.housekeeping.run(logger: testLogger).total == 0)
            registry.clock.advance(days: 2)
            let dayTwo = try await registry.housekeeping.run(logger: testLogger)
            #expect(dayTwo.sessions == 0 && dayTwo.rateLimits == before.rateLimits && dayTwo.loginThrottle == before.throttle)

            // Sessions are kept 30 days after they ended; then they go, in batches, once.
            registry.clock.advance(days: 30)
            let later = try await registry.housekeeping.run(batch: 2, logger: testLogger)
            #expect(later.sessions == 3)
            #expect(try await rows("sessions") == 0)
            #expect(try await registry.housekeeping.run(logger: testLogger).total == 0)
        }
    }

    @Test("a transfer request left unanswered lapses after the policy's days, with no request: her file is free for another; nothing sooner")
    func transferRequestLapses() async throws {
        try await withTestRegistry { registry, _ in
            let (_, a) = try await registry.approvedAgency(1)
            let (_, b) = try await registry.approvedAgency(2)
            let id = Fixtures.idNumber(serial: 362)
            _ = try await registry.workers.register(Fixtures.registration(id, phone: "13900139002"), caller: a, logger: testLogger)
            let requested = try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger).transfer
            let tid = try #require(UUID(uuidString: requested.id))
            // While it waits, the file's one open transfer is taken.
            await expectError("transfer_open") { _ = try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger) }
            let days = registry.policies.custody.requestExpiryDays
            registry.clock.advance(days: days - 1)
            #expect(try await registry.transfers.expireUnanswered(logger: testLogger) == 0)
            registry.clock.advance(days: 1)
            registry.clock.advance(by: 60)
            #expect(try await registry.transfers.expireUnanswered(logger: testLogger) == 1)
            #expect(try await registry.transfers.expireUnanswered(logger: testLogger) == 0)
            let lapsed = try await registry.transfers.get(tid, caller: b, logger: testLogger)
            #expect(lapsed.status == "expired" && lapsed.allowed.isEmpty)
            #expect(try await registry.auditCount("transfer.expired") == 1)
            #expect(try await registry.notificationCount("transfer_lapsed") == 2)  // both agencies
            await expectError("illegal_transition") { _ = try await registry.transfers.consent(tid, code: "000000", caller: b, logger: testLogger) }
            // Her file is free: the agency may ask again.
            let again = try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger).transfer
            #expect(again.status == "requested" && again.id != requested.id)
        }
    }
}
