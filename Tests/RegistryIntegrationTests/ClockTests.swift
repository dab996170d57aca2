import Foundation
import RegistryDomain
import RegistryServices
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
            #expect(report.generatedAt.timeIntervalSinceNow > 10 * 86_400)
        }
    }
}
