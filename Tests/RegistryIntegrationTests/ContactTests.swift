import Foundation
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@Suite("Contact details that change")
struct ContactTests {
    func phones(_ registry: Registry, worker: WorkerID) async throws -> (file: String?, account: String?) {
        let rows = try await registry.database.query(
            "SELECT w.phone, u.phone FROM workers w LEFT JOIN users u ON u.worker_id = w.id WHERE w.id = \(worker)",
            logger: testLogger
        )
        for try await row in rows.decode((String?, String?).self) { return row }
        return (nil, nil)
    }

    func recipients(_ registry: Registry, _ kind: String) async throws -> [String] {
        var all: [String] = []
        let rows = try await registry.database.query("SELECT recipient FROM notifications WHERE template = \(kind) ORDER BY id", logger: testLogger)
        for try await r in rows.decode(String.self) { all.append(r) }
        return all
    }

    @Test(
        "a worker changes her number from her account: the code goes to the new number, a wrong code changes nothing, the right one moves her file and account and tells the old number"
    )
    func workerChangesHerNumber() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let old = "13800138001"
            let new = "139 0013 9077"
            let requested = try await registry.contacts.requestChange(phone: new, email: nil, caller: h.worker, logger: testLogger)
            #expect(requested.kind == "phone" && requested.sentTo == "139****9077")
            #expect(try await recipients(registry, "contact_change_code") == ["13900139077"])
            let code = try #require(try await registry.lastCode("contact_change_code"))
            await expectError("wrong_code") {
                _ = try await registry.contacts.confirmChange(code: code == "000000" ? "111111" : "000000", caller: h.worker, logger: testLogger)
            }
            #expect(try await phones(registry, worker: h.workerID) == (old, old))
            let changed = try await registry.contacts.confirmChange(code: code, caller: h.worker, logger: testLogger)
            #expect(changed.phone == "13900139077")
            #expect(try await phones(registry, worker: h.workerID) == ("13900139077", "13900139077"))
            #expect(try await recipients(registry, "contact_changed") == [old])
            #expect(try await registry.auditCount("contact.changed") == 1)
            // The code is spent.
            await expectError("wrong_code") { _ = try await registry.contacts.confirmChange(code: code, caller: h.worker, logger: testLogger) }
            // She signs in with the new number.
            _ = try await registry.auth.login(
                .phone("13900139077"),
                password: "worker password",
                clientAddress: "203.0.113.5",
                presentedToken: nil,
                requestID: nil,
                logger: testLogger
            )
        }
    }

    @Test("one number, one person: another account's number is refused; a worker's account is not started on a staff member's number")
    func oneNumberOnePerson() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let h2 = try await Household.make(registry, n: 2, employerEmail: "home2@example.cn")
            await expectError("contact_taken") {
                _ = try await registry.contacts.requestChange(phone: "13800138002", email: nil, caller: h.worker, logger: testLogger)
            }
            _ = h2
            // A staff member adds her own number (an e-mail change works the same way).
            let staffNumber = "13700137001"
            _ = try await registry.contacts.requestChange(phone: staffNumber, email: nil, caller: h.agency, logger: testLogger)
            _ = try await registry.contacts.confirmChange(
                code: try #require(try await registry.lastCode("contact_change_code")),
                caller: h.agency,
                logger: testLogger
            )
            _ = try await registry.contacts.requestChange(phone: nil, email: "new-staff@agency.cn", caller: h.agency, logger: testLogger)
            #expect(try await recipients(registry, "contact_change_code").last == "new-staff@agency.cn")
            // The agency types its own number as a worker's: her account is refused.
            let w = try await registry.workers.register(
                Fixtures.registration(Fixtures.idNumber(serial: 377), phone: staffNumber),
                caller: h.agency,
                logger: testLogger
            )
            await expectError("phone_is_staff") { _ = try await registry.accounts.startWorkerAccount(w, caller: h.agency, logger: testLogger) }
            #expect(try await registry.notificationCount("worker_activation_code") == 2)  // the two households' workers only
        }
    }

    @Test("an administrator changes a worker's number after an in-person check: the reason is audited and both numbers are told")
    func administratorChangesANumber() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            await expectError("forbidden") {
                _ = try await registry.contacts.adminChangeWorkerPhone(
                    h.workerID,
                    phone: "13900139088",
                    reason: "x",
                    caller: h.agency,
                    logger: testLogger
                )
            }
            let changed = try await registry.contacts.adminChangeWorkerPhone(
                h.workerID,
                phone: "13900139088",
                reason: "本人持身份证到服务中心核验",
                caller: admin,
                logger: testLogger
            )
            #expect(changed.phone == "13900139088")
            #expect(try await phones(registry, worker: h.workerID) == ("13900139088", "13900139088"))
            #expect(try await recipients(registry, "contact_changed_by_admin").sorted() == ["13800138001", "13900139088"])
            #expect(try await registry.auditCount("worker.phone_changed") == 1)
        }
    }
}
