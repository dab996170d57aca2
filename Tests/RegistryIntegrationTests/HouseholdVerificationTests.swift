import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// Households are real: an employer account confirms a placement only once its phone number has
/// proved itself by a code, and the report says how each review's engagement was confirmed.
@Suite("Verified households")
struct HouseholdVerificationTests {
    /// A household registered with a phone number it has not verified yet.
    static func unverified(_ registry: Registry, email: String = "new-home@example.cn", phone: String? = "17611112222") async throws -> Caller {
        let id = try await registry.accounts.registerEmployer(
            .init(email: email, phone: phone, password: "employer password", householdName: "赵家", regionCode: "320102"),
            caller: .system,
            logger: testLogger
        )
        return Caller(Principal(.user(id: id, role: .employer, agencyID: nil, workerID: nil)))
    }

    static let review = EngagementService.ReviewInput(
        skillScores: ["punctuality": 5, "quality": 4, "childcare": 5],
        ethicsScores: ["honesty": 5, "respect": 5, "reliability": 4, "care": 5],
        comment: nil
    )

    /// The signed-in household of `email`.
    static func caller(_ registry: Registry, email: String) async throws -> Caller {
        let user = try await registry.database.withConnection { connection in
            try await AccountStore.find(email: email, phone: nil, on: connection, logger: testLogger)
        }
        return Caller(Principal(.user(id: UserID(try #require(user).id), role: .employer, agencyID: nil, workerID: nil)))
    }

    @Test(
        "a placement is confirmed only from an account whose phone proved itself by a code; the engagement records how; the report shows it"
    )
    func confirmNeedsVerifiedPhone() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let household = try await Self.unverified(registry)
            let engagement = try await registry.engagements.place(
                .init(workerId: h.workerID.uuid, employerEmail: "new-home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                caller: h.agency,
                logger: testLogger
            )
            #expect(try await registry.contacts.current(caller: household, logger: testLogger).phoneVerified == false)

            // Unverified: refused, and nothing changes.
            let before = try await registry.fingerprint()
            await expectError("phone_not_verified") {
                _ = try await registry.engagements.transition(engagement, "confirm", caller: household, logger: testLogger)
            }
            #expect(changedTables(before, try await registry.fingerprint()) == [])

            // She asks for a code to her own number: it goes there; a wrong code verifies nothing.
            let sent = try await registry.contacts.requestChange(phone: "176 1111 2222", email: nil, caller: household, logger: testLogger)
            #expect(sent.kind == "phone" && sent.sentTo == "176****2222")
            let code = try #require(try await registry.lastCode("phone_verification_code"))
            await expectError("wrong_code") {
                _ = try await registry.contacts.confirmChange(code: code == "000000" ? "111111" : "000000", caller: household, logger: testLogger)
            }
            #expect(try await registry.contacts.current(caller: household, logger: testLogger).phoneVerified == false)
            let verified = try await registry.contacts.confirmChange(code: code, caller: household, logger: testLogger)
            #expect(verified.phone == "17611112222" && verified.email == "new-home@example.cn" && verified.phoneVerified)
            #expect(try await registry.auditCount("contact.phone_verified") == 1)
            #expect(try await registry.notificationCount("contact_changed") == 0)  // nothing changed: nobody to tell
            await expectError("same_contact") {
                _ = try await registry.contacts.requestChange(phone: "17611112222", email: nil, caller: household, logger: testLogger)
            }

            // Verified: the placement is confirmed, and says how.
            let confirmed = try await registry.engagements.transition(engagement, "confirm", caller: household, logger: testLogger)
            #expect(confirmed.status == "confirmed" && confirmed.confirmedVia == "verified_phone")
            _ = try await registry.engagements.review(
                engagement: engagement,
                Self.review,
                caller: household,
                logger: testLogger
            )
            let report = try await registry.reports.report(h.workerID, caller: household, logger: testLogger)
            let item = try #require(report.reviews.recent.first)
            #expect(item.confirmedVia == "verified_phone" && item.confirmedAt != nil)

            // A new number is verified by its own code, and stays verified.
            _ = try await registry.contacts.requestChange(phone: "17633334444", email: nil, caller: household, logger: testLogger)
            let moved = try await registry.contacts.confirmChange(
                code: try #require(try await registry.lastCode("contact_change_code")),
                caller: household,
                logger: testLogger
            )
            #expect(moved.phone == "17633334444" && moved.phoneVerified)
            #expect(try await registry.notificationCount("contact_changed") == 1)  // the old number is told
        }
    }

    @Test("a household cannot verify an agency's contact number or a number on a worker's file, nor another account's")
    func notAnAgencysNumber() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let household = try await Self.unverified(registry, email: "fake@example.cn", phone: nil)
            try await registry.database.query(
                "UPDATE agencies SET contact_phone = '13912340000' WHERE id = \(h.agencyID.uuid)",
                logger: testLogger
            )
            // A worker registered by the agency, with no account of her own yet.
            _ = try await registry.workers.register(
                Fixtures.registration(Fixtures.idNumber(serial: 300), phone: "13955556666"),
                caller: h.agency,
                logger: testLogger
            )
            let before = try await registry.fingerprint()
            for phone in ["13912340000", "13955556666"] {
                await expectError("phone_not_household") {
                    _ = try await registry.contacts.requestChange(phone: phone, email: nil, caller: household, logger: testLogger)
                }
            }
            // The worker's own account number.
            await expectError("contact_taken") {
                _ = try await registry.contacts.requestChange(phone: "13800138001", email: nil, caller: household, logger: testLogger)
            }
            #expect(changedTables(before, try await registry.fingerprint()) == [])
        }
    }

    @Test(
        "over HTTP and on the pages: the API answers 403 phone_not_verified; the household is led to verify its number, then confirms; the report page says how"
    )
    func pages() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            _ = try await Self.unverified(registry)
            let engagement = try await registry.engagements.place(
                .init(workerId: h.workerID.uuid, employerEmail: "new-home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                caller: h.agency,
                logger: testLogger
            )
            let login = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["email": "new-home@example.cn", "password": "employer password"])
            )
            let bearer: HTTPFields = [
                .authorization: "Bearer \(TestJSON.object(login.body)["token"] as? String ?? "")", .contentType: "application/json",
            ]
            let refused = try await client.execute(uri: "/api/v1/engagements/\(engagement)/confirm", method: .post, headers: bearer)
            #expect(refused.status == .forbidden && TestJSON.errorCode(refused.body) == "phone_not_verified")
            let contact = TestJSON.object(try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: bearer).body)
            #expect(contact["phone_verified"] as? Bool == false)

            var home = PageClient(client: client)
            _ = try await home.signIn(email: "new-home@example.cn", password: "employer password")
            #expect(PagesAdminToolsTests.html(try await home.get("/employer")).contains("id=\"verify-phone-notice\""))
            let confirm = try await home.post("/employer/engagements/\(engagement)/confirm", [:])
            #expect(confirm.status == .seeOther && confirm.headers[.location] == "/account/contact?notice=phone_not_verified")
            let page = PagesAdminToolsTests.html(try await home.get("/account/contact?notice=phone_not_verified"))
            #expect(page.contains("id=\"phone-state\">not verified<") || page.contains("id=\"phone-state\">未验证<"))
            #expect(page.contains("id=\"verify-phone\""))
            let sent = try await home.post("/account/contact", ["phone": "17611112222", "email": ""])
            #expect(sent.status == .seeOther && sent.headers[.location] == "/account/contact?notice=verify_sent")
            let code = try #require(try await registry.lastCode("phone_verification_code"))
            let done = try await home.post("/account/contact/confirm", ["code": code])
            #expect(done.status == .seeOther && done.headers[.location] == "/account/contact?notice=verified")
            let after = PagesAdminToolsTests.html(try await home.get("/account/contact?notice=verified"))
            #expect(!after.contains("id=\"verify-phone\""))
            #expect(!PagesAdminToolsTests.html(try await home.get("/employer")).contains("id=\"verify-phone-notice\""))
            let confirmed = try await home.post("/employer/engagements/\(engagement)/confirm", [:])
            #expect(confirmed.status == .seeOther && confirmed.headers[.location] == "/employer?notice=engagement_confirmed")
            let engagements = TestJSON.object(try await client.execute(uri: "/api/v1/engagements", method: .get, headers: bearer).body)
            let first = try #require((engagements["engagements"] as? [[String: Any]])?.first)
            #expect(first["confirmed_via"] as? String == "verified_phone")
            _ = try await registry.engagements.review(
                engagement: engagement,
                Self.review,
                caller: try await Self.caller(registry, email: "new-home@example.cn"),
                logger: testLogger
            )
            let report = PagesAdminToolsTests.html(try await home.get("/employer/workers/\(h.workerID.text)/report"))
            #expect(report.contains("class=\"muted confirmation\""))
            #expect(report.contains("verified phone number") || report.contains("通过已验证的手机号确认"))
        }
    }
}
