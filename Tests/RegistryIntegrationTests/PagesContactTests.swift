import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryServices
import Testing

@Suite("Web pages: one's own contact details")
struct PagesContactTests {
    @Test(
        "staff change their e-mail address on the page: the code goes to the new address, a wrong code is refused in the form, the right one changes it"
    )
    func changeEmail() async throws {
        try await withTestApp { registry, _, client in
            let (_, email, password, _) = try await registry.pagesAgency(7)
            var staff = PageClient(client: client)
            _ = try await staff.signIn(email: email, password: password)
            let page = PagesAdminToolsTests.html(try await staff.get("/account/contact"))
            #expect(page.contains("id=\"current-email\">\(email)<") && page.contains("href=\"/account/contact\""))
            let sent = try await staff.post("/account/contact", ["phone": "", "email": "Moved@Agency.cn"])
            #expect(sent.status == .seeOther && sent.headers[.location] == "/account/contact?notice=sent")
            let code = try #require(try await registry.lastCode("contact_change_code"))
            let wrong = try await staff.post("/account/contact/confirm", ["code": code == "000000" ? "111111" : "000000"])
            #expect(wrong.status == .badRequest)
            #expect(PagesAdminToolsTests.html(wrong).contains("aria-invalid=\"true\""))
            let done = try await staff.post("/account/contact/confirm", ["code": code])
            #expect(done.status == .seeOther && done.headers[.location] == "/account/contact?notice=changed")
            let after = PagesAdminToolsTests.html(try await staff.get("/account/contact?notice=changed"))
            #expect(after.contains("id=\"current-email\">moved@agency.cn<"))
            // Signed out: sent to sign in.
            let anonymous = try await client.execute(uri: "/account/contact", method: .get)
            #expect(anonymous.status == .seeOther && anonymous.headers[.location]?.hasPrefix("/signin?next=") == true)
        }
    }
}
