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

@Suite("Credit commitments")
struct CommitmentTests {
    /// The same registry and database with new versions of both commitments in force (as after
    /// a change of `Policies/commitments.yaml`).
    static func newVersions(_ registry: Registry) throws -> Registry {
        var policies = registry.policies
        policies.commitments.agency.version = "2099.1"
        policies.commitments.staff.version = "2099.1"
        policies.commitments.staff.en = "A new staff commitment."
        return try Registry(
            configuration: registry.configuration,
            policies: policies,
            database: registry.database,
            keys: registry.keys,
            clock: RegistryClock(),
            hasher: testHasher
        )
    }

    @Test(
        "a new version: a staff member accepts her own and records the agency's as its legal representative signed it: only the version in force, once each, audited, shown to her colleagues"
    )
    func acceptAndSign() async throws {
        try await withTestRegistry { old, _ in
            let (agencyID, staff) = try await old.approvedAgency(1)
            let registry = try Self.newVersions(old)
            let policy = registry.policies.commitments
            var view = try await registry.commitments.view(caller: staff, logger: testLogger)
            // Both were signed in the old version (the agency's with its application); neither is in the new one.
            #expect(!view.agency.accepted && !view.staff.accepted && view.history.count == 2)
            #expect(view.agency.version == "2099.1" && view.staff.en == "A new staff commitment.")
            #expect(view.history.contains { $0.kind == "agency" && $0.representative == "法定代表人" })

            await expectError("stale_version") {
                _ = try await registry.commitments.accept(
                    .init(kind: "staff", version: old.policies.commitments.staff.version),
                    caller: staff,
                    logger: testLogger
                )
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
            #expect(try await registry.auditCount("commitment.staff_accepted", subject: agencyID.uuid) == 1)

            view = try await registry.commitments.accept(.init(kind: "staff", version: policy.staff.version), caller: staff, logger: testLogger)
            #expect(view.staff.accepted && !view.agency.accepted)
            view = try await registry.commitments.accept(
                .init(kind: "agency", version: policy.agency.version, representative: "王芳"),
                caller: staff,
                logger: testLogger
            )
            #expect(view.agency.accepted && view.agency.representative == "王芳" && view.history.count == 4)
            // Again: nothing new.
            _ = try await registry.commitments.accept(.init(kind: "staff", version: policy.staff.version), caller: staff, logger: testLogger)
            #expect(try await registry.auditCount("commitment.staff_accepted", subject: agencyID.uuid) == 2)
            #expect(try await registry.auditCount("commitment.agency_signed", subject: agencyID.uuid) == 2)

            // A colleague sees the agency's signed, and her own still to accept; other roles are refused.
            let colleague = try await registry.makeUser(
                role: .agencyStaff,
                email: "colleague@agency.cn",
                password: "colleague password",
                agencyID: agencyID.uuid
            )
            let other = Caller(Principal(.user(id: UserID(colleague), role: .agencyStaff, agencyID: agencyID, workerID: nil)))
            let theirs = try await registry.commitments.view(caller: other, logger: testLogger)
            #expect(theirs.agency.accepted && !theirs.staff.accepted && theirs.history.count == 4)
            let h = try await Household.make(registry, n: 2)
            await expectError("forbidden") { _ = try await registry.commitments.view(caller: h.employer, logger: testLogger) }

            // The page: the texts in the visitor's language and the recorded signature; signing
            // in while a commitment is owed leads to it first.
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                var page = PageClient(client: client)
                page.cookies["lang"] = "en"
                _ = try await page.signIn(email: "colleague@agency.cn", password: "colleague password")
                #expect(try await page.get("/").headers[.location] == "/agency/commitments?notice=commitment_required")
                let html = String(buffer: try await page.get("/agency/commitments").body)
                #expect(html.contains(policy.agency.en.prefix(40)) && html.contains("王芳"))
                let accepted = try await page.post("/agency/commitments", ["kind": "staff", "version": policy.staff.version])
                #expect(accepted.status == .seeOther)
                #expect(try await registry.commitments.view(caller: other, logger: testLogger).staff.accepted)
                #expect(try await page.get("/").headers[.location] == "/agency")
            }
        }
    }

    @Test(
        "no write before the commitments in force are accepted: 403 commitment_required over the API, a redirect to them from a form; reads, signing out and accepting stay open"
    )
    func writesWaitForTheCommitments() async throws {
        try await withTestRegistry { old, _ in
            let (agencyID, _) = try await old.approvedAgency(1)
            let registry = try Self.newVersions(old)
            let policy = registry.policies.commitments
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                let login = try await client.execute(
                    uri: "/api/v1/auth/login",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: TestJSON.body(["email": "staff1@agency.cn", "password": "agency password 1"])
                )
                let token = try #require(TestJSON.object(login.body)["token"] as? String)
                let headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
                func me() async throws -> [String] {
                    let r = try await client.execute(uri: "/api/v1/auth/me", method: .get, headers: headers)
                    return TestJSON.object(r.body)["commitments_owed"] as? [String] ?? ["?"]
                }
                func register(_ serial: Int) async throws -> TestResponse {
                    try await client.execute(
                        uri: "/api/v1/workers",
                        method: .post,
                        headers: headers,
                        body: TestJSON.body([
                            "id_number": Fixtures.idNumber(serial: serial), "full_name": "李秀英", "sex": "F",
                            "home_region": "320102", "service_categories": ["nanny"],
                        ])
                    )
                }
                func accept(_ body: [String: Any]) async throws -> HTTPResponse.Status {
                    try await client.execute(uri: "/api/v1/agency/commitments", method: .post, headers: headers, body: TestJSON.body(body)).status
                }
                #expect(try await me() == ["agency", "staff"])
                let refused = try await register(120)
                #expect(refused.status == .forbidden && TestJSON.errorCode(refused.body) == "commitment_required")
                #expect(try await client.execute(uri: "/api/v1/workers", method: .get, headers: headers).status == .ok)
                #expect(try await accept(["kind": "staff", "version": policy.staff.version]) == .ok)
                #expect(try await me() == ["agency"])
                #expect(TestJSON.errorCode(try await register(122).body) == "commitment_required")
                #expect(try await accept(["kind": "agency", "version": policy.agency.version, "representative": "林建国"]) == .ok)
                #expect(try await me() == [])
                #expect(try await register(124).status == .created)
                // Refused writes changed nothing.
                let rows = try await registry.database.query("SELECT count(*)::int FROM workers", logger: testLogger)
                for try await n in rows.decode(Int.self) { #expect(n == 1) }
                #expect(try await client.execute(uri: "/api/v1/auth/logout", method: .post, headers: headers).status == .noContent)
            }
            // A form posted while a commitment is owed leads to the commitments, and nothing is written.
            _ = try await registry.makeUser(role: .agencyStaff, email: "colleague@agency.cn", password: "colleague password", agencyID: agencyID.uuid)
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                var page = PageClient(client: client)
                _ = try await page.signIn(email: "colleague@agency.cn", password: "colleague password")
                _ = try await page.get("/agency/workers/new")
                let posted = try await page.post(
                    "/agency/workers",
                    [
                        "id_number": Fixtures.idNumber(serial: 126), "full_name": "王芳", "sex": "F", "home_region": "320102",
                        "service_categories": "nanny",
                    ]
                )
                #expect(posted.status == .seeOther && posted.headers[.location] == "/agency/commitments?notice=commitment_required")
                let notice = String(buffer: try await page.get("/agency/commitments?notice=commitment_required").body)
                #expect(notice.contains("credit commitments") || notice.contains("信用承诺"))
            }
        }
    }

    @Test("an agency applies with its commitment signed by its legal representative: the version in force only, the name required")
    func applicationCarriesTheCommitment() async throws {
        try await withTestRegistry { registry, _ in
            let version = registry.policies.commitments.agency.version
            func application(_ n: Int, representative: String, version: String) -> AgencyService.Application {
                .init(
                    name: "Agency \(n)",
                    uscc: Fixtures.uscc(n),
                    regionCode: "320102",
                    contactName: "Contact \(n)",
                    contactPhone: nil,
                    contactEmail: "apply\(n)@agency.cn",
                    password: "agency password \(n)",
                    representative: representative,
                    commitmentVersion: version
                )
            }
            await expectError("stale_version") {
                _ = try await registry.agencies.apply(application(3, representative: "陈立", version: "2001.1"), caller: .system, logger: testLogger)
            }
            await expectError("missing_field") {
                _ = try await registry.agencies.apply(application(3, representative: "  ", version: version), caller: .system, logger: testLogger)
            }
            #expect(try await registry.auditCount("agency.applied") == 0)
            let (agencyID, userID) = try await registry.agencies.apply(
                application(3, representative: "陈立", version: version),
                caller: .system,
                logger: testLogger
            )
            let contact = Caller(Principal(.user(id: userID, role: .agencyStaff, agencyID: agencyID, workerID: nil)))
            let view = try await registry.commitments.view(caller: contact, logger: testLogger)
            #expect(view.agency.accepted && view.agency.representative == "陈立" && view.agency.version == version)
            #expect(!view.staff.accepted)
            #expect(try await registry.auditCount("commitment.agency_signed", subject: agencyID.uuid) == 1)
        }
    }
}
