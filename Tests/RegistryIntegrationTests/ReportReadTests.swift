import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// The report and the public lookup are each one prepared statement: who may read is decided,
/// and the read recorded, inside it. These check what that statement writes and refuses.
@Suite("The report and the ban lookup in one statement")
struct ReportReadTests {
    static func count(_ registry: Registry, _ sql: String) async throws -> Int {
        for try await n in try await registry.database.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(Int.self) { return n }
        return 0
    }

    /// (inquiries, report.viewed audit rows) for every worker.
    static func recorded(_ registry: Registry) async throws -> [Int] {
        [
            try await count(registry, "SELECT count(*)::int FROM inquiries"),
            try await count(registry, "SELECT count(*)::int FROM audit_log WHERE action = 'report.viewed'"),
        ]
    }

    @Test("an allowed view writes one inquiry and one audit row; a refused one writes neither, and her own view is no inquiry")
    func recordsOnlyAllowedViews() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            #expect(try await Self.recorded(registry) == [0, 0])

            // A household without an engagement or a consent: refused, nothing written.
            await expectError("consent_required") { try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger) }
            // Staff of another agency: as if she did not exist; a pending agency's staff: told why.
            let (_, stranger) = try await registry.approvedAgency(2)
            await expectError("not_found") { try await registry.reports.report(h.workerID, caller: stranger, logger: testLogger) }
            let (_, pending) = try await registry.approvedAgency(3, approve: false)
            await expectError("agency_not_approved") { try await registry.reports.report(h.workerID, caller: pending, logger: testLogger) }
            // No such worker.
            await expectError("not_found") { try await registry.reports.report(WorkerID(UUID()), caller: h.agency, logger: testLogger) }
            #expect(try await Self.recorded(registry) == [0, 0])

            // Her own view is not an inquiry.
            _ = try await registry.reports.report(h.workerID, caller: h.worker, logger: testLogger)
            #expect(try await Self.recorded(registry) == [0, 0])

            // Her agency, then the household with a redeemed code: one inquiry and one audit row each.
            _ = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            #expect(try await Self.recorded(registry) == [1, 1])
            let issued = try await registry.consents.issue(caller: h.worker, logger: testLogger)
            _ = try await registry.consents.redeem(code: try #require(issued.code), caller: h.employer, logger: testLogger)
            _ = try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            #expect(try await Self.recorded(registry) == [2, 2])
            let purposes = try await registry.database.query(
                "SELECT i.purpose, i.viewer_role, (i.consent_id IS NOT NULL), a.details->>'purpose', a.actor_role FROM inquiries i JOIN audit_log a ON a.action = 'report.viewed' AND a.details->>'purpose' = i.purpose ORDER BY i.viewed_at",
                logger: testLogger
            )
            var rows: [[String]] = []
            for try await (purpose, role, consent, audited, actor) in purposes.decode((String, String, Bool, String, String).self) {
                rows.append([purpose, role, consent ? "consent" : "-", audited, actor])
            }
            #expect(
                rows == [
                    ["custody", "agency_staff", "-", "custody", "agency_staff"],
                    ["pre_hire_check", "employer", "consent", "pre_hire_check", "employer"],
                ]
            )
        }
    }

    @Test("the lookup's limit is per address; a network the policy names gets its own allowance; a malformed number counts too")
    func lookupAllowances() async throws {
        var policies = try PolicySet.load(directory: repositoryRoot + "/Policies")
        policies.reports.publicLookupsPerMinute = 3
        policies.reports.publicLookupAllowances = [.init(network: "10.1.0.0/16", perMinute: 8, reason: "partner platform")]
        try await policies.reports.validate()
        try await withTestRegistry(policies: policies) { registry, _ in
            let id = Fixtures.idNumber(serial: 301)
            func answers(_ address: String, _ n: Int, id: String = id) async throws -> (allowed: Int, throttled: Int) {
                var allowed = 0
                var throttled = 0
                for _ in 0..<n {
                    do {
                        #expect(try await registry.reports.banStatus(idNumber: id, clientAddress: address, logger: testLogger) == false)
                        allowed += 1
                    } catch let e as RegistryError where e.code == "too_many_attempts" {
                        throttled += 1
                    }
                }
                return (allowed, throttled)
            }
            // Counted per calendar minute: wait out a boundary that is about to fall inside the test.
            let second = Int(Date().timeIntervalSince1970) % 60
            if second > 30 { try await Task.sleep(for: .seconds(61 - second)) }
            let plain = try await answers("192.0.2.7", 5)
            #expect(plain.allowed == 3 && plain.throttled == 2)
            let partner = try await answers("10.1.2.3", 10)
            #expect(partner.allowed == 8 && partner.throttled == 2)
            // Another address of the same network has its own count.
            #expect(try await answers("10.1.9.9", 1).allowed == 1)
            // Over the limit, a malformed number is told to wait, not that it is malformed.
            await expectError("too_many_attempts") {
                try await registry.reports.banStatus(idNumber: "123", clientAddress: "192.0.2.7", logger: testLogger)
            }
            await expectError("id_number_length") {
                try await registry.reports.banStatus(idNumber: "123", clientAddress: "192.0.2.8", logger: testLogger)
            }
        }
    }

    @Test("a network or an allowance the policy cannot mean is refused with its place")
    func allowanceValidation() throws {
        var policy = ReportPolicy()
        policy.publicLookupAllowances = [.init(network: "10.0.0.0/33", perMinute: 5, reason: "x")]
        #expect(throws: PolicyError(path: ["public_lookup_allowances", "0", "network"], message: "is an address or a network like 203.0.113.0/24")) {
            try policy.validate()
        }
        policy.publicLookupAllowances = [.init(network: "10.0.0.0/8", perMinute: 0, reason: "x")]
        #expect(throws: PolicyError(path: ["public_lookup_allowances", "0", "per_minute"], message: "must be 1 to 100000000")) {
            try policy.validate()
        }
        policy.publicLookupAllowances = [
            .init(network: "10.0.0.0/8", perMinute: 50, reason: "a"), .init(network: "10.1.0.0/16", perMinute: 90, reason: "b"),
        ]
        try policy.validate()
        #expect(policy.lookupsPerMinute(for: "10.1.0.1") == 90)
        #expect(policy.lookupsPerMinute(for: "10.2.0.1") == 50)
        #expect(policy.lookupsPerMinute(for: "192.0.2.1") == 20)
        #expect(policy.lookupsPerMinute(for: nil) == 20)
    }
}
