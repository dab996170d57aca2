import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryHTTP
import RegistryServices
import RegistryStorage
import Testing

@Suite("Credit commitments")
struct CommitmentTests {
    @Test(
        "a staff member accepts her own commitment and records the agency's as its legal representative signed it: only the version in force, once each, audited, shown to her colleagues"
    )
    func acceptAndSign() async throws {
        try await withTestRegistry { registry, _ in
            let (agencyID, staff) = try await registry.approvedAgency(1)
            let policy = registry.policies.commitments
            var view = try await registry.commitments.view(caller: staff, logger: testLogger)
            #expect(!view.agency.accepted && !view.staff.accepted && view.history.isEmpty)
            #expect(view.agency.version == policy.agency.version && view.staff.zh == policy.staff.zh)

            await expectError("stale_version") {
                _ = try await registry.commitments.accept(.init(kind: "staff", version: "1999.1"), caller: staff, logger: testLogger)
            }
            await expectError("missing_field") {
                _ = try await registry.commitments.accept(.init(kind: "agency", version: policy.agency.version), caller: staff, logger: testLogger)
            }
            await expectError("invalid_field") {
                _ = try await registry.commitments.accept(
                    .init(kind: "staff", version: policy.staff.version, representative: "王芳"),
                    caller: staff,
                    logger: testLogger
                )
            }
            #expect(try await registry.auditCount("commitment.staff_accepted") == 0)

            view = try await registry.commitments.accept(.init(kind: "staff", version: policy.staff.version), caller: staff, logger: testLogger)
            #expect(view.staff.accepted && !view.agency.accepted)
            view = try await registry.commitments.accept(
                .init(kind: "agency", version: policy.agency.version, representative: "王芳"),
                caller: staff,
                logger: testLogger
            )
            #expect(view.agency.accepted && view.agency.representative == "王芳" && view.history.count == 2)
            // Again: nothing new.
            _ = try await registry.commitments.accept(.init(kind: "staff", version: policy.staff.version), caller: staff, logger: testLogger)
            #expect(try await registry.auditCount("commitment.staff_accepted", subject: agencyID.uuid) == 1)
            #expect(try await registry.auditCount("commitment.agency_signed", subject: agencyID.uuid) == 1)

            // A colleague sees the agency's signed, and her own still to accept; other roles are refused.
            let colleague = try await registry.makeUser(
                role: .agencyStaff,
                email: "colleague@agency.cn",
                password: "colleague password",
                agencyID: agencyID.uuid
            )
            let other = Caller(Principal(.user(id: UserID(colleague), role: .agencyStaff, agencyID: agencyID, workerID: nil)))
            let theirs = try await registry.commitments.view(caller: other, logger: testLogger)
            #expect(theirs.agency.accepted && !theirs.staff.accepted && theirs.history.count == 2)
            let h = try await Household.make(registry, n: 2)
            await expectError("forbidden") { _ = try await registry.commitments.view(caller: h.employer, logger: testLogger) }

            // The page: the texts in the visitor's language and the recorded signature.
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                var page = PageClient(client: client)
                page.cookies["lang"] = "en"
                _ = try await page.signIn(email: "colleague@agency.cn", password: "colleague password")
                let html = String(buffer: try await page.get("/agency/commitments").body)
                #expect(html.contains(policy.agency.en.prefix(40)) && html.contains("王芳"))
                let accepted = try await page.post("/agency/commitments", ["kind": "staff", "version": policy.staff.version])
                #expect(accepted.status == .seeOther)
                #expect(try await registry.commitments.view(caller: other, logger: testLogger).staff.accepted)
            }
        }
    }
}
