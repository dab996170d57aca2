import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// The employer's and the worker's pages over the real HTTP stack: consent code → check →
/// report → inquiry, engagements and reviews, escaping, CSRF, anonymous visitors, languages.
@Suite("Web pages: employers and workers")
struct PagesEmployerTests {
    static let workerPassword = "worker password"
    static let employerPassword = "employer password"

    static func phone(_ n: Int) -> String { "1380013800\(n)" }

    static func issuedCode(_ html: String) -> String? {
        html.firstMatch(of: #/id="issued-code">([A-Z0-9]+)</#).map { String($0.output.1) }
    }

    @Test("anonymous visitors are sent to sign in (and back to /check with its code); registration and activation are open")
    func anonymous() async throws {
        try await withTestApp { _, _, client in
            for path in ["/employer", "/worker", "/employer/workers/\(UUID().uuidString.lowercased())/report"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location]?.hasPrefix("/signin?next=") == true, "\(path)")
            }
            let check = try await client.execute(uri: "/check?code=ABCD2345", method: .get)
            #expect(check.headers[.location] == "/signin?next=/check%3Fcode%3DABCD2345")
            let post = try await client.execute(
                uri: "/worker/consents",
                method: .post,
                headers: PageClient.formHeaders,
                body: ByteBuffer(string: "x=1")
            )
            #expect(post.status == .seeOther)
            #expect(post.headers[.location] == "/signin")
            for path in ["/employer/register", "/activate"] {
                let page = try await client.execute(uri: path, method: .get)
                #expect(page.status == .ok, "\(path)")
                let html = String(buffer: page.body)
                #expect(PageClient.csrf(in: html) != nil)
                #expect(!html.contains("⟦"))
            }
        }
    }

    @Test("a household registers by the form (CSRF checked), errors inline; signs in and lands on /employer")
    func registerEmployer() async throws {
        try await withTestApp { _, _, client in
            var page = PageClient(client: client)
            _ = try await page.get("/employer/register")
            let form = ["household_name": "李家", "email": "li@example.cn", "phone": "", "region_code": "320102", "password": "household password"]
            let forged = try await page.post("/employer/register", form, csrf: .value("forged-token-that-is-long-enough"))
            #expect(forged.status == .forbidden)
            let bad = try await page.post("/employer/register", form.merging(["region_code": "32"]) { $1 })
            #expect(bad.status == .badRequest)
            let badHTML = String(buffer: bad.body)
            #expect(badHTML.contains("id=\"region_code-error\""))
            #expect(badHTML.contains("value=\"li@example.cn\""))
            #expect(!badHTML.contains("household password"))
            let ok = try await page.post("/employer/register", form)
            #expect(ok.status == .seeOther)
            #expect(ok.headers[.location] == "/signin?notice=employer_registered")
            var signedIn = PageClient(client: client)
            let response = try await signedIn.signIn(email: "li@example.cn", password: "household password")
            #expect(response.status == .seeOther)
            let home = try await signedIn.get("/")
            #expect(home.headers[.location] == "/employer")
            let list = try await signedIn.get("/employer")
            #expect(list.status == .ok)
            #expect(String(buffer: list.body).contains("暂无雇佣记录"))
        }
    }

    @Test("the worker issues a code (shown once, CSRF checked); the employer redeems it at /check and reads the report; she sees the inquiry")
    func consentCheckReport() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: Self.phone(1), password: Self.workerPassword)
            #expect(try await worker.get("/").headers[.location] == "/worker")
            let home = try await worker.get("/worker")
            #expect(home.status == .ok)
            #expect(String(buffer: home.body).contains("id=\"not-graded\""))

            let refused = try await worker.post("/worker/consents", [:], csrf: .none)
            #expect(refused.status == .forbidden)
            #expect(try await registry.consents.list(caller: h.worker, logger: testLogger).isEmpty)
            let issued = try await worker.post("/worker/consents", [:])
            #expect(issued.status == .ok)
            let html = String(buffer: issued.body)
            let code = try #require(Self.issuedCode(html))
            #expect(html.contains("href=\"/check?code=\(code)\""))
            // Shown once: the home page lists the code's state, never the code.
            #expect(!String(buffer: try await worker.get("/worker").body).contains(code))

            var employer = PageClient(client: client)
            _ = try await employer.signIn(email: "home@example.cn", password: Self.employerPassword)
            #expect(try await employer.get("/").headers[.location] == "/employer")
            let prefilled = try await employer.get("/check?code=\(code)")
            #expect(String(buffer: prefilled.body).contains("value=\"\(code)\""))
            let noToken = try await employer.post("/check", ["code": code], csrf: .none)
            #expect(noToken.status == .forbidden)
            let wrong = try await employer.post("/check", ["code": "ZZZZ2345"])
            #expect(wrong.status == .badRequest)
            #expect(String(buffer: wrong.body).contains("id=\"code-error\""))
            let redeemed = try await employer.post("/check", ["code": code.lowercased()])
            #expect(redeemed.status == .seeOther)
            let location = try #require(redeemed.headers[.location])
            #expect(location == "/employer/workers/\(h.workerID.text)/report")
            let report = try await employer.get(location)
            #expect(report.status == .ok)
            let reportHTML = String(buffer: report.body)
            #expect(reportHTML.contains("李秀英"))
            #expect(reportHTML.contains("id=\"standing\""))
            #expect(try await registry.inquiryCount(h.workerID.uuid) == 1)

            let after = String(buffer: try await worker.get("/worker").body)
            #expect(after.contains("张家"))
            #expect(after.contains("雇佣前查询"))
        }
    }

    @Test("the employer confirms and reviews by the form; a <script> comment is escaped on her page and in the report; she replies")
    func reviewEscapedAndReply() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let today = CivilDate.today().iso
            let engagement = try await registry.engagements.place(
                .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: today),
                caller: h.agency,
                logger: testLogger
            )
            let id = engagement.uuidString.lowercased()
            var employer = PageClient(client: client)
            _ = try await employer.signIn(email: "home@example.cn", password: Self.employerPassword)
            let list = String(buffer: try await employer.get("/employer").body)
            #expect(list.contains("action=\"/employer/engagements/\(id)/confirm\""))
            #expect(try await employer.post("/employer/engagements/\(id)/confirm", [:], csrf: .none).status == .forbidden)
            let confirmed = try await employer.post("/employer/engagements/\(id)/confirm", [:])
            #expect(confirmed.headers[.location] == "/employer?notice=engagement_confirmed")

            let form = try await employer.get("/employer/engagements/\(id)/review")
            #expect(form.status == .ok)
            let missing = try await employer.post(
                "/employer/engagements/\(id)/review",
                [
                    "skill_quality": "4", "ethics_honesty": "5", "ethics_respect": "5", "ethics_reliability": "5", "comment": "kept <b>",
                ]
            )
            #expect(missing.status == .badRequest)
            let missingHTML = String(buffer: missing.body)
            #expect(missingHTML.contains("id=\"ethics_care-error\""))
            #expect(missingHTML.contains("kept &lt;b&gt;"))
            let comment = "<script>alert(1)</script> 很好 & \"细心\""
            let fields = [
                "skill_quality": "4", "skill_childcare": "5", "ethics_honesty": "5", "ethics_respect": "4",
                "ethics_reliability": "5", "ethics_care": "5", "comment": comment,
            ]
            #expect(try await employer.post("/employer/engagements/\(id)/review", fields, csrf: .none).status == .forbidden)
            let saved = try await employer.post("/employer/engagements/\(id)/review", fields)
            #expect(saved.headers[.location] == "/employer?notice=review_saved")
            let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; 很好 &amp; &quot;细心&quot;"
            let report = String(buffer: try await employer.get("/employer/workers/\(h.workerID.text)/report").body)
            #expect(report.contains(escaped))
            #expect(!report.contains("<script>"))

            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: Self.phone(1), password: Self.workerPassword)
            let home = String(buffer: try await worker.get("/worker").body)
            #expect(home.contains(escaped))
            #expect(!home.contains("<script>"))
            let reviewID = try #require(home.firstMatch(of: #/action="/worker/reviews/([0-9a-f-]+)/reply"/#).map { String($0.output.1) })
            #expect(try await worker.post("/worker/reviews/\(reviewID)/reply", ["body": "谢谢"], csrf: .none).status == .forbidden)
            let empty = try await worker.post("/worker/reviews/\(reviewID)/reply", ["body": ""])
            #expect(empty.status == .badRequest)
            #expect(String(buffer: empty.body).contains("id=\"reply-\(reviewID)-error\""))
            let replied = try await worker.post("/worker/reviews/\(reviewID)/reply", ["body": "谢谢 <i>张家</i>"])
            #expect(replied.headers[.location] == "/worker?notice=reply_saved")
            let after = String(buffer: try await worker.get("/worker?notice=reply_saved").body)
            #expect(after.contains("谢谢 &lt;i&gt;张家&lt;/i&gt;"))
            #expect(!after.contains("action=\"/worker/reviews/\(reviewID)/reply\""))
        }
    }

    @Test("her pages in English and in Chinese: the grade in plain words, availability on and off")
    func languagesAndGrade() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            _ = try await registry.grading.drainQueue(logger: testLogger)
            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: Self.phone(1), password: Self.workerPassword)
            let zh = String(buffer: try await worker.get("/worker").body)
            #expect(zh.contains("<html lang=\"zh-CN\">"))
            #expect(zh.contains("我的信用等级"))
            #expect(zh.contains("id=\"own-grade\""))
            #expect(!zh.contains("⟦"))
            worker.cookies["lang"] = "en"
            let en = String(buffer: try await worker.get("/worker").body)
            #expect(en.contains("<html lang=\"en\">"))
            #expect(en.contains("My credit grade"))
            #expect(en.contains("Who checked my file"))
            #expect(!en.contains("⟦"))
            #expect(try await worker.post("/worker/availability", ["available": "true"], csrf: .none).status == .forbidden)
            let on = try await worker.post("/worker/availability", ["available": "true"])
            #expect(on.headers[.location] == "/worker?notice=available_on")
            let listed = String(buffer: try await worker.get("/worker?notice=available_on").body)
            #expect(listed.contains("You are listed for hire; employers can find you."))
            #expect(listed.contains("name=\"available\" value=\"false\""))
            #expect(try await registry.count("SELECT count(*)::int FROM workers WHERE id = $1 AND available_for_hire", h.workerID.uuid) == 1)
            let off = try await worker.post("/worker/availability", ["available": "false"])
            #expect(off.headers[.location] == "/worker?notice=available_off")
            #expect(try await registry.count("SELECT count(*)::int FROM workers WHERE id = $1 AND available_for_hire", h.workerID.uuid) == 0)
            #expect(String(buffer: try await worker.get("/worker?notice=available_off").body).contains("name=\"available\" value=\"true\""))
            // A code she no longer wants is revoked by its own form.
            _ = try await worker.post("/worker/consents", [:])
            let consent = try #require(try await registry.consents.list(caller: h.worker, logger: testLogger).first)
            let path = "/worker/consents/\(consent.id.uuidString.lowercased())/revoke"
            #expect(try await worker.post(path, [:], csrf: .none).status == .forbidden)
            let revoked = try await worker.post(path, [:])
            #expect(revoked.headers[.location] == "/worker?notice=consent_revoked#consents")
            #expect(try await registry.consents.list(caller: h.worker, logger: testLogger).first?.revokedAt != nil)
        }
    }

    @Test("activation by the form: a wrong code is refused inline, the password never echoed")
    func activation() async throws {
        try await withTestApp { _, _, client in
            var page = PageClient(client: client)
            _ = try await page.get("/activate")
            let wrong = try await page.post("/activate", ["phone": "13800138009", "code": "123456", "password": "a long enough password"])
            #expect(wrong.status == .badRequest)
            let html = String(buffer: wrong.body)
            #expect(html.contains("id=\"code-error\""))
            #expect(html.contains("value=\"13800138009\""))
            #expect(!html.contains("a long enough password"))
            let forged = try await page.post("/activate", ["phone": "13800138009"], csrf: .value("forged-token-that-is-long-enough"))
            #expect(forged.status == .forbidden)
        }
    }
}
