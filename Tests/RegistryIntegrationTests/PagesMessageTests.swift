import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@Suite("Web pages: messages and the demo mailbox")
struct PagesMessageTests {
    /// One dead letter (the gateway refused it) with a code in its parameters.
    static func deadLetter(_ registry: Registry) async throws {
        try await registry.database.transaction(logger: testLogger) { connection in
            try await NotificationStore.enqueue(
                channel: "sms",
                recipient: "13912345678",
                template: "consent_code",
                payload: ["code": "ZX81QW7K", "minutes": "30"],
                key: "pages-dead",
                on: connection,
                logger: testLogger
            )
        }
        let refusing = registry.outboxDispatcher(channels: ["sms": RecordingChannel(failing: 1, retryable: false)])
        _ = try await refusing.dispatchOnce(logger: testLogger)
    }

    @Test("an administrator sees the outbox by state and a dead letter, masked and without its code, and sends it again")
    func deadLetters() async throws {
        try await withTestApp { registry, _, client in
            try await Self.deadLetter(registry)
            var admin = try await PagesAdminToolsTests.admin(registry, client).0
            let page = try await admin.get("/admin/messages")
            #expect(page.status == .ok)
            let html = PagesAdminToolsTests.html(page)
            #expect(html.contains("id=\"count-dead\">1<") && html.contains("139****5678") && html.contains("refused"))
            #expect(!html.contains("ZX81QW7K") && !html.contains("13912345678"))
            #expect(!html.contains("/demo/outbox"))  // not in demo mode
            let id = try #require(html.firstMatch(of: #/action="/admin/messages/([0-9]+)/retry"/#).map { String($0.output.1) })
            let retried = try await admin.post("/admin/messages/\(id)/retry", [:])
            #expect(retried.status == .seeOther && retried.headers[.location] == "/admin/messages?notice=retried")
            let after = PagesAdminToolsTests.html(try await admin.get("/admin/messages?notice=retried"))
            #expect(after.contains("id=\"count-dead\">0<") && after.contains("id=\"count-pending\">1<"))
            // Sent again, to the same recipient, under the same key.
            let channel = RecordingChannel()
            #expect(try await registry.outboxDispatcher(channels: ["sms": channel]).dispatchOnce(logger: testLogger) == 1)
            #expect(channel.sent.map(\.key) == ["pages-dead"] && channel.sent.first?.text.contains("ZX81QW7K") == true)
            // Outside demo mode there is no mailbox.
            #expect(try await admin.get("/demo/outbox").status == .notFound)
        }
    }

    @Test("signed out: sent to sign in; other roles are refused the pages and the form, and nothing is queued again")
    func refused() async throws {
        try await withTestApp { registry, _, client in
            try await Self.deadLetter(registry)
            for path in ["/admin/messages", "/demo/outbox"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther && response.headers[.location]?.hasPrefix("/signin?next=") == true, "\(path)")
            }
            let (agencyID, email, password, _) = try await registry.pagesAgency(7)
            _ = agencyID
            var staff = PageClient(client: client)
            _ = try await staff.signIn(email: email, password: password)
            #expect(try await staff.get("/admin/messages").status == .forbidden)
            #expect(try await staff.get("/demo/outbox").status == .forbidden)
            #expect(try await staff.post("/admin/messages/1/retry", [:]).status == .forbidden)
            #expect(try await registry.messages.overview(logger: testLogger).counts["dead"] == 1)
        }
    }

    @Test("demo mode: what the demo texted is in the demo mailbox, as the worker reads it")
    func demoMailbox() async throws {
        try await withTestApp(configure: { $0.demoMode = true }) { registry, _, client in
            let h = try await Household.make(registry)
            _ = try await registry.consents.issueByAgency(h.workerID, caller: h.agency, logger: testLogger)
            let code = try #require(try await registry.lastCode("consent_code"))
            // Two texts to her, and the e-mail telling her agency it was approved.
            #expect(try await registry.outboxDispatcher().dispatchOnce(logger: testLogger) == 3)
            var admin = try await PagesAdminToolsTests.admin(registry, client).0
            let html = PagesAdminToolsTests.html(try await admin.get("/demo/outbox"))
            #expect(html.contains("授权码为\(code)") && html.contains("consent_code") && html.contains("worker_activation_code"))
            #expect(html.contains("agency_approved") && html.contains("staff1@agency.cn"))
            #expect(PagesAdminToolsTests.html(try await admin.get("/admin/messages")).contains("href=\"/demo/outbox\""))
        }
    }
}
