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

@Suite("The red list")
struct RedListTests {
    /// Sets her grade letter and the day it began, as the grader would have after that many days.
    func holdGrade(_ grade: String, days: Int, _ worker: WorkerID, _ registry: Registry, _ endpoint: DatabaseEndpoint) async throws {
        let since = registry.clock.today.adding(days: -days).iso
        try await asOwner(endpoint) { client in
            try await client.query("UPDATE grades SET grade = \(grade), grade_since = \(since)::date WHERE worker_id = \(worker)", logger: testLogger)
        }
    }

    func search(_ registry: Registry, _ caller: Caller, redList: Bool = true, sector: String? = nil) async throws -> [ReportService.Listing] {
        try await registry.reports.searchAvailable(
            .init(region: nil, category: nil, minLevel: nil, minGrade: nil, limit: 20, offset: 0, sector: sector, redListOnly: redList),
            caller: caller,
            logger: testLogger
        )
    }

    @Test(
        "she is listed only when she opts in and holds the top grade for the policy's days with no open case and no live flag; losing any of it takes her off the same day; employers filter by it, agencies count it"
    )
    func rule() async throws {
        try await withTestRegistry { registry, endpoint in
            let h = try await Household.make(registry)
            while try await registry.grading.drainQueue(logger: testLogger) > 0 {}
            try await registry.accounts.setAvailable(true, caller: h.worker, logger: testLogger)
            let days = registry.policies.publication.redList.minDays

            var mine = try await registry.publicLists.redList(caller: h.worker, logger: testLogger)
            #expect(!mine.optIn && !mine.listed && mine.missing.contains("not_opted_in"))

            try await holdGrade("A", days: days, h.workerID, registry, endpoint)
            mine = try await registry.publicLists.setRedList(optIn: true, caller: h.worker, logger: testLogger)
            #expect(mine.listed && mine.missing.isEmpty, "\(mine)")
            #expect(try await registry.auditCount("worker.red_list_opt_in", subject: h.workerID.uuid) == 1)
            let found = try await search(registry, h.employer)
            #expect(found.map(\.id) == [h.workerID.uuid.text] && found[0].redList)
            #expect(try await search(registry, h.employer, sector: "domestic_service").count == 1)
            #expect(try await search(registry, h.employer, sector: "preschool_education").isEmpty)
            await expectError("unknown_sector") { _ = try await search(registry, h.employer, sector: "gardening") }
            let count = try await registry.publicLists.redListCount(caller: h.agency, logger: testLogger)
            #expect(count.workers == 1 && count.onRedList == 1)

            // One day short of the period: not yet.
            try await holdGrade("A", days: days - 1, h.workerID, registry, endpoint)
            mine = try await registry.publicLists.redList(caller: h.worker, logger: testLogger)
            #expect(!mine.listed && mine.missing == ["grade_not_held"])
            #expect(try await search(registry, h.employer).isEmpty)
            // Unfiltered, she is still found, marked as not on it.
            #expect(try await search(registry, h.employer, redList: false).first?.redList == false)

            // Losing the grade takes her off at once.
            try await holdGrade("B", days: days * 2, h.workerID, registry, endpoint)
            #expect(!(try await registry.publicLists.redList(caller: h.worker, logger: testLogger)).listed)
            #expect(try await registry.publicLists.redListCount(caller: h.agency, logger: testLogger).onRedList == 0)

            // A live flag, or an open case, keeps her off too.
            try await holdGrade("A", days: days, h.workerID, registry, endpoint)
            let (sourceID, _, _, bureau) = try await registry.source("bureau-red", kind: "credit_bureau")
            _ = try await registry.flags.submit(
                [flag(Fixtures.idNumber(serial: 101), "R-1", "debt_default", severity: 1, status: "alleged", expires: "2099-01-01")],
                sourceID: sourceID,
                caller: bureau,
                logger: testLogger
            )
            #expect(try await registry.publicLists.redList(caller: h.worker, logger: testLogger).missing == ["live_flag"])
            _ = try await registry.flags.change(
                sourceID: sourceID,
                reference: "R-1",
                .init(status: "retracted", severity: nil, expiresOn: nil),
                caller: bureau,
                logger: testLogger
            )
            #expect(try await registry.publicLists.redList(caller: h.worker, logger: testLogger).listed)
            _ = try await registry.engagement(h, confirmedBy: h.employer)
            _ = try await registry.cases.file(
                .init(workerId: h.workerID.uuid, grounds: "theft", statement: "家中财物丢失。"),
                caller: h.employer,
                logger: testLogger
            )
            #expect(try await registry.publicLists.redList(caller: h.worker, logger: testLogger).missing == ["open_case"])

            // Opting out takes her off whatever else holds — here through the API as she would.
            let session = try await registry.auth.login(
                .from(email: nil, phone: "13800138001"),
                password: "worker password",
                clientAddress: "127.0.0.1",
                presentedToken: nil,
                requestID: "red-list",
                logger: testLogger
            )
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                let auth: HTTPFields = [.authorization: "Bearer \(session.token)", .contentType: "application/json"]
                let put = try await client.execute(uri: "/api/v1/me/red-list", method: .put, headers: auth, body: TestJSON.body(["opt_in": false]))
                #expect(put.status == .ok)
                let body = TestJSON.object(put.body)
                #expect(body["opt_in"] as? Bool == false && body["listed"] as? Bool == false)
                let bad = try await client.execute(uri: "/api/v1/me/red-list", method: .put, headers: auth, body: TestJSON.body(["optIn": true]))
                #expect(bad.status == .badRequest)
                #expect(
                    TestJSON.object(try await client.execute(uri: "/api/v1/me/red-list", method: .get, headers: auth, body: nil).body)["opt_in"]
                        as? Bool == false
                )
            }
            mine = try await registry.publicLists.redList(caller: h.worker, logger: testLogger)
            #expect(!mine.optIn && !mine.listed)
            await expectError("forbidden") { _ = try await registry.publicLists.setRedList(optIn: true, caller: h.employer, logger: testLogger) }
        }
    }

    @Test("the grade's start day is kept while the letter stays and restarts when it changes")
    func gradeSince() async throws {
        try await withTestRegistry { registry, endpoint in
            let h = try await Household.make(registry)
            while try await registry.grading.drainQueue(logger: testLogger) > 0 {}
            func since() async throws -> (String, String) {
                try await single(
                    try await registry.database.query(
                        "SELECT grade, grade_since::text FROM grades WHERE worker_id = \(h.workerID)",
                        logger: testLogger
                    ),
                    (String, String).self
                )
            }
            let first = try await since()
            #expect(first.1 == registry.clock.today.iso)
            registry.clock.advance(days: 10)
            _ = try await registry.database.transaction(logger: testLogger) { connection in
                try await registry.grading.regrade([h.workerID.uuid], cause: "test", on: connection, logger: testLogger)
            }
            let kept = try await since()
            #expect(kept == first)
            // Another letter on file (as if it had changed): the next grading restarts the day.
            try await holdGrade(first.0 == "A" ? "B" : "A", days: 100, h.workerID, registry, endpoint)
            _ = try await registry.database.transaction(logger: testLogger) { connection in
                try await registry.grading.regrade([h.workerID.uuid], cause: "test", on: connection, logger: testLogger)
            }
            let restarted = try await since()
            #expect(restarted.0 == first.0 && restarted.1 == registry.clock.today.iso)
        }
    }
}
