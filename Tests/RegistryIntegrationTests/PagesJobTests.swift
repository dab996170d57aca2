import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryServices
import Testing

@Suite("Web pages: the scheduled jobs")
struct PagesJobTests {
    @Test("an administrator sees every job with its schedule and last run, runs one now (audited), and reads the same in the API")
    func jobs() async throws {
        try await withTestApp { registry, _, client in
            var admin = try await PagesAdminToolsTests.admin(registry, client).0
            let page = try await admin.get("/admin/jobs")
            #expect(page.status == .ok)
            let html = PagesAdminToolsTests.html(page)
            for name in SchedulePolicy.jobNames { #expect(html.contains("id=\"job-\(name)\""), "\(name)") }
            #expect(html.contains("5m") && html.contains("1h"))
            let ran = try await admin.post("/admin/jobs/audit-checkpoint/run", [:])
            #expect(ran.status == .seeOther && ran.headers[.location] == "/admin/jobs?ran=1")
            let after = PagesAdminToolsTests.html(try await admin.get("/admin/jobs?ran=1"))
            #expect(after.contains("role=\"status\""))
            let row = try #require(after.firstMatch(of: #/id="job-audit-checkpoint">(?s)(.*?)</tr>/#).map { String($0.output.1) })
            #expect(row.contains("<td>1</td><td>0</td>"))  // one run, no failure
            #expect(try await registry.auditCount("job.run") == 1)
            // An unknown job is 404 and runs nothing.
            #expect(try await admin.post("/admin/jobs/nightly/run", [:]).status == .notFound)
            #expect(try await registry.auditCount("job.run") == 1)
        }
    }

    @Test("signed out: sent to sign in; an agency's staff is refused the page and the button")
    func refused() async throws {
        try await withTestApp { registry, _, client in
            let response = try await client.execute(uri: "/admin/jobs", method: .get)
            #expect(response.status == .seeOther && response.headers[.location]?.hasPrefix("/signin?next=") == true)
            let (_, email, password, _) = try await registry.pagesAgency(7)
            var staff = PageClient(client: client)
            _ = try await staff.signIn(email: email, password: password)
            #expect(try await staff.get("/admin/jobs").status == .forbidden)
            #expect(try await staff.post("/admin/jobs/housekeeping/run", [:]).status == .forbidden)
            #expect(try await registry.auditCount("job.run") == 0)
        }
    }
}
