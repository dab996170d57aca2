import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// The server-rendered pages over the real HTTP stack and a real database: sign-in by form,
/// CSRF on every page form, redirects for anonymous visitors, escaping, languages, static files.
@Suite("Web pages")
struct PagesTests {
    // MARK: act

    @Test("an anonymous visitor asking for a page that needs sign-in is sent to the sign-in page (303), not shown JSON")
    func anonymousIsRedirected() async throws {
        try await withTestApp { _, _, client in
            let response = try await client.execute(uri: "/agency/workers?q=%E6%9D%8E", method: .get)
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/signin?next=/agency/workers%3Fq%3D%25E6%259D%258E")
            let post = try await client.execute(
                uri: "/agency/workers",
                method: .post,
                headers: PageClient.formHeaders,
                body: ByteBuffer(string: "full_name=x")
            )
            #expect(post.status == .seeOther)
            #expect(post.headers[.location] == "/signin")
            // The API keeps its JSON answer.
            let api = try await client.execute(uri: "/api/v1/workers", method: .get)
            #expect(api.status == .unauthorized)
            #expect(api.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }

    @Test("pages are HTML in UTF-8 under the strict content security policy, with a sign-in form carrying a CSRF token")
    func signInPage() async throws {
        try await withTestApp { _, _, client in
            let response = try await client.execute(uri: "/signin", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let html = String(buffer: response.body)
            #expect(html.contains("<html lang=\"zh-CN\">"))
            #expect(html.contains("<label for=\"account\">"))
            #expect(PageClient.csrf(in: html) != nil)
            #expect(!html.contains("⟦"))
        }
    }

    @Test("signing in by the form sets the same session cookie as the API and ends the session presented with it")
    func signInByForm() async throws {
        try await withTestApp { registry, _, client in
            let agency = try await registry.pagesAgency(1)
            var page = PageClient(client: client)
            let first = try await page.signIn(email: agency.email, password: agency.password)
            #expect(first.status == .seeOther)
            #expect(first.headers[.location] == "/")
            let cookie = try #require(first.headers[values: .setCookie].first { $0.hasPrefix("registry_session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"))
            let oldToken = try #require(page.cookies["registry_session"])
            // Signing in again (as after a timeout) replaces the session presented.
            _ = try await page.signIn(email: agency.email, password: agency.password)
            #expect(page.cookies["registry_session"] != oldToken)
            let rows = try await registry.database.query(
                "SELECT count(*)::int FROM sessions WHERE revoked_at IS NULL",
                logger: testLogger
            )
            #expect(try await single(rows, Int.self) == 1)
            // The home page leads agency staff to their agency.
            let home = try await page.get("/")
            #expect(home.headers[.location] == "/agency")
        }
    }

    @Test("a wrong password re-displays the form with the error and the account typed, never the password")
    func wrongPassword() async throws {
        try await withTestApp { registry, _, client in
            let agency = try await registry.pagesAgency(2)
            var page = PageClient(client: client)
            let response = try await page.signIn(email: agency.email, password: "not the password <x>")
            #expect(response.status == .unauthorized)
            let html = String(buffer: response.body)
            #expect(html.contains("value=\"\(agency.email)\""))
            #expect(!html.contains("not the password"))
            #expect(html.contains("账号或密码错误"))
        }
    }

    @Test("a page POST by a signed-in user without the session's csrf_token is refused and changes nothing")
    func csrfRefused() async throws {
        try await withTestApp { registry, _, client in
            let agency = try await registry.pagesAgency(3)
            var page = PageClient(client: client)
            _ = try await page.signIn(email: agency.email, password: agency.password)
            let form = [
                "id_number": PagesFixtures.idNumber(serial: 124), "full_name": "王芳", "sex": "F", "home_region": "320102",
                "service_categories": "nanny",
            ]
            let missing = try await page.post("/agency/workers", form, csrf: .none)
            #expect(missing.status == .forbidden)
            #expect(missing.headers[.contentType] == "text/html; charset=utf-8")
            let wrong = try await page.post("/agency/workers", form, csrf: .value("x" + (page.csrf ?? "")))
            #expect(wrong.status == .forbidden)
            let signOut = try await page.post("/signout", [:], csrf: .none)
            #expect(signOut.status == .forbidden)
            let roster = try await registry.workers.roster(nameContains: nil, limit: 10, offset: 0, caller: agency.caller, logger: testLogger)
            #expect(roster.isEmpty)
            // With the token it works, and the worker is addressed by her UUID, never her ID number.
            let ok = try await page.post("/agency/workers", form)
            #expect(ok.status == .seeOther)
            let location = try #require(ok.headers[.location])
            #expect(location.hasPrefix("/agency/workers/") && !location.contains(form["id_number"]!))
            let file = try await page.get(String(location.split(separator: "?")[0]))
            let html = String(buffer: file.body)
            #expect(html.contains("王芳"))
            #expect(html.contains("32***************"))
            #expect(!html.contains(form["id_number"]!))
        }
    }

    @Test("anonymous forms are protected too: the apply form needs the form cookie's token")
    func anonymousCSRF() async throws {
        try await withTestApp { _, _, client in
            var page = PageClient(client: client)
            _ = try await page.get("/apply")
            #expect(page.cookies["registry_form"] != nil)
            let refused = try await page.post("/apply", ["name": "x"], csrf: .value("forged-token-that-is-long-enough"))
            #expect(refused.status == .forbidden)
        }
    }

    @Test("a wrong input re-renders the form with the message next to the field and what was typed, escaped")
    func inlineErrorsAreEscaped() async throws {
        try await withTestApp { registry, _, client in
            let agency = try await registry.pagesAgency(4)
            var page = PageClient(client: client)
            _ = try await page.signIn(email: agency.email, password: agency.password)
            let response = try await page.post(
                "/agency/workers",
                [
                    "id_number": PagesFixtures.idNumber(serial: 124), "full_name": "\"><script>alert(1)</script>", "sex": "M",
                    "home_region": "320102", "service_categories": "elder_care",
                ]
            )
            #expect(response.status == .badRequest)
            let html = String(buffer: response.body)
            #expect(html.contains("id=\"full_name-error\""))
            #expect(html.contains("aria-invalid=\"true\""))
            #expect(html.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""))
            #expect(!html.contains("<script>"))
            #expect(html.contains("value=\"elder_care\" checked"))
        }
    }

    @Test("user data is escaped on every page that shows it (an agency's name in the admin's list)")
    func storedDataIsEscaped() async throws {
        try await withTestApp { registry, _, client in
            _ = try await registry.agencies.apply(
                .init(
                    name: "<img src=x onerror=alert(1)> & \"Co\"",
                    uscc: PagesFixtures.uscc(5),
                    regionCode: "320102",
                    contactName: "Zhang",
                    contactPhone: nil,
                    contactEmail: "apply5@agency.cn",
                    password: "agency password 5",
                    representative: "法定代表人",
                    commitmentVersion: registry.policies.commitments.agency.version
                ),
                caller: .system,
                logger: testLogger
            )
            _ = try await registry.makeUser(role: .admin, email: "admin@pages.cn", password: "admin password!")
            var page = PageClient(client: client)
            _ = try await page.signIn(email: "admin@pages.cn", password: "admin password!")
            let list = try await page.get("/admin/agencies?status=pending")
            let html = String(buffer: list.body)
            #expect(list.status == .ok)
            #expect(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Co&quot;"))
            #expect(!html.contains("<img"))
        }
    }

    @Test("an administrator approves an agency through the page; rejecting without a reason is refused inline")
    func adminDecides() async throws {
        try await withTestApp { registry, _, client in
            let (agencyID, _) = try await registry.agencies.apply(
                .init(
                    name: "Pending agency",
                    uscc: PagesFixtures.uscc(6),
                    regionCode: "320102",
                    contactName: "Zhang",
                    contactPhone: nil,
                    contactEmail: "apply6@agency.cn",
                    password: "agency password 6",
                    representative: "法定代表人",
                    commitmentVersion: registry.policies.commitments.agency.version
                ),
                caller: .system,
                logger: testLogger
            )
            _ = try await registry.makeUser(role: .admin, email: "admin@pages.cn", password: "admin password!")
            var page = PageClient(client: client)
            _ = try await page.signIn(email: "admin@pages.cn", password: "admin password!")
            let path = "/admin/agencies/\(agencyID.text)"
            let reject = try await page.post(path + "/decision", ["decision": "reject", "reason": ""])
            #expect(reject.status == .badRequest)
            #expect(String(buffer: reject.body).contains("id=\"reason-error\""))
            let approve = try await page.post(path + "/decision", ["decision": "approve"])
            #expect(approve.status == .seeOther)
            #expect(try await registry.agencies.get(agencyID, caller: registry.pagesAdmin(), logger: testLogger).status == "approved")
        }
    }

    @Test("a roster pasted as CSV shows a result for every line")
    func importByPaste() async throws {
        try await withTestApp { registry, _, client in
            let agency = try await registry.pagesAgency(7)
            var page = PageClient(client: client)
            _ = try await page.signIn(email: agency.email, password: agency.password)
            let good = PagesFixtures.idNumber(serial: 226)
            let bad = String(PagesFixtures.idNumber(serial: 228).dropLast()) + "0"
            let csv =
                "\u{FEFF}id_number,full_name,sex,phone,home_region,service_categories\r\n"
                + "\(good),王芳,F,13900001111,320102,nanny;cooking\r\n\(bad),李娜,F,,320102,nanny\r\n"
            let response = try await page.post("/agency/import", ["csv": csv])
            #expect(response.status == .ok)
            let html = String(buffer: response.body)
            #expect(html.contains("id=\"count-created\">1<"))
            #expect(html.contains("id=\"count-rejected\">1<"))
            #expect(html.contains("请检查「身份证号码」"))
            let roster = try await registry.workers.roster(nameContains: nil, limit: 10, offset: 0, caller: agency.caller, logger: testLogger)
            #expect(roster.map(\.fullName) == ["王芳"])
            let header = try await page.post("/agency/import", ["csv": "name,sex\r\n"])
            #expect(header.status == .badRequest)
            #expect(String(buffer: header.body).contains("id=\"csv-error\""))
        }
    }

    @Test("each role lands on its own home; a page of another role is a 403 page, not JSON")
    func rolesAndHomes() async throws {
        try await withTestApp { registry, _, client in
            let agency = try await registry.pagesAgency(8)
            var page = PageClient(client: client)
            _ = try await page.signIn(email: agency.email, password: agency.password)
            let admin = try await page.get("/admin")
            #expect(admin.status == .forbidden)
            #expect(admin.headers[.contentType] == "text/html; charset=utf-8")
            #expect(String(buffer: admin.body).contains("您没有权限进行此操作"))
            let missing = try await page.get("/agency/workers/\(UUID().uuidString.lowercased())")
            #expect(missing.status == .notFound)
            let unknown = try await page.get("/no/such/page")
            #expect(unknown.status == .notFound)
            #expect(unknown.headers[.contentType] == "text/html; charset=utf-8")

            _ = try await registry.makeUser(role: .admin, email: "admin@pages.cn", password: "admin password!")
            var adminPage = PageClient(client: client)
            _ = try await adminPage.signIn(email: "admin@pages.cn", password: "admin password!")
            let home = try await adminPage.get("/")
            #expect(home.headers[.location] == "/admin")
            let adminHome = try await adminPage.get("/admin")
            #expect(adminHome.status == .ok)
        }
    }

    @Test("the language comes from the lang cookie, else Accept-Language, else zh-CN; the switch only returns to this site")
    func languages() async throws {
        try await withTestApp { _, _, client in
            let english = try await client.execute(uri: "/signin", method: .get, headers: [.acceptLanguage: "en-GB,en;q=0.9"])
            #expect(String(buffer: english.body).contains("<html lang=\"en\">"))
            let chosen = try await client.execute(
                uri: "/signin",
                method: .get,
                headers: [.acceptLanguage: "en", .cookie: "lang=zh-CN"]
            )
            #expect(String(buffer: chosen.body).contains("<html lang=\"zh-CN\">"))
            let switched = try await client.execute(uri: "/lang/en?next=/apply", method: .get)
            #expect(switched.status == .seeOther)
            #expect(switched.headers[.location] == "/apply")
            #expect(switched.headers[values: .setCookie].contains { $0.hasPrefix("lang=en;") })
            for evil in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
                let response = try await client.execute(uri: "/lang/en?next=" + PageScope.queryEncode(evil), method: .get)
                #expect(response.headers[.location] == "/")
            }
            #expect(try await client.execute(uri: "/lang/fr", method: .get).status == .notFound)
        }
    }

    @Test("static files are served with caching headers; nothing outside Web/static can be reached")
    func staticFiles() async throws {
        try await withTestApp { _, _, client in
            let css = try await client.execute(uri: "/static/site.css", method: .get)
            #expect(css.status == .ok)
            #expect(css.headers[.contentType] == "text/css; charset=utf-8")
            #expect(css.headers[.cacheControl]?.hasPrefix("public") == true)
            let etag = try #require(css.headers[.eTag])
            let again = try await client.execute(uri: "/static/site.css", method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
            let versioned = try await client.execute(uri: "/static/site.css?v=\(etag.trimmingCharacters(in: ["\""]))", method: .get)
            #expect(versioned.headers[.cacheControl]?.contains("immutable") == true)
            for path in [
                "/static/..%2Fopenapi.yaml", "/static/../openapi.yaml", "/static/.hidden", "/static/%2e%2e%2fi18n%2fen.yaml",
                "/static/missing.css", "/static/",
            ] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .notFound, "\(path)")
            }
        }
    }
}

/// Translations and templates, checked without a server.
@Suite("Web page texts")
struct PagesTextTests {
    static let web = repositoryRoot + "/Web"

    static func templates() throws -> [(String, String)] {
        let dir = web + "/templates"
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".mustache") }.sorted().map {
            ($0, try String(contentsOfFile: dir + "/" + $0, encoding: .utf8))
        }
    }

    @Test("zh-CN and English have exactly the same keys, none empty")
    func sameKeys() throws {
        let zh = try Translations.loadTable(path: Self.web + "/i18n/zh-CN.yaml")
        let en = try Translations.loadTable(path: Self.web + "/i18n/en.yaml")
        #expect(Set(zh.flat.keys).subtracting(en.flat.keys).sorted() == [], "missing in en.yaml")
        #expect(Set(en.flat.keys).subtracting(zh.flat.keys).sorted() == [], "missing in zh-CN.yaml")
        #expect(zh.flat.filter { $0.value.trimmingCharacters(in: .whitespaces).isEmpty }.keys.sorted() == [])
        #expect(en.flat.filter { $0.value.trimmingCharacters(in: .whitespaces).isEmpty }.keys.sorted() == [])
    }

    @Test("every key a template or the code uses exists in both languages")
    func keysExist() throws {
        let tables = try Translations.load(directory: Self.web + "/i18n").tables
        let pattern = try Regex(#"\{\{[#^/]?\s*t\.([A-Za-z0-9_.]+)\s*\}\}"#)
        var used: Set<String> = Set(PageVocabulary.requiredKeys)
        for (name, text) in try Self.templates() {
            let keys = text.matches(of: pattern).map { String($0.output[1].substring ?? "") }
            #expect(!keys.isEmpty || name.hasPrefix("_"), "\(name) uses no translated text")
            used.formUnion(keys)
        }
        for (language, table) in tables {
            #expect(used.filter { !table.has($0) }.sorted() == [], "missing in \(language.fileName)")
        }
    }

    @Test("templates never output unescaped values, carry no inline script or style, and every form has the CSRF token")
    func templatesAreSafe() throws {
        for (name, text) in try Self.templates() {
            #expect(!text.contains("{{{") && !text.contains("{{&"), "\(name) has an unescaped variable")
            #expect(!text.contains("<script") && !text.contains("style=") && !text.contains("<style"), "\(name) has inline script or style")
            #expect(text.firstMatch(of: #/\son[a-z]+\s*=/#) == nil, "\(name) has an inline event handler")
            for form in text.components(separatedBy: "<form").dropFirst() {
                let body = form.components(separatedBy: "</form>")[0]
                if body.contains("method=\"post\"") {
                    #expect(body.contains("{{> _csrf}}") || body.contains("name=\"csrf_token\""), "\(name): a POST form without csrf_token")
                }
            }
        }
        // Every input, select and textarea has a label pointing at it.
        for (name, text) in try Self.templates() {
            let ids = text.matches(of: try Regex(#"<(?:input|select|textarea)[^>]*\bid="([^"]+)""#)).map { String($0.output[1].substring ?? "") }
            for id in ids {
                #expect(text.contains("for=\"\(id)\""), "\(name): #\(id) has no label")
            }
        }
    }

    @Test("Accept-Language picks the best supported language; zh-CN when none")
    func negotiation() {
        #expect(Language.negotiate(cookie: nil, acceptLanguage: nil) == .zh)
        #expect(Language.negotiate(cookie: nil, acceptLanguage: "fr-FR,fr;q=0.9") == .zh)
        #expect(Language.negotiate(cookie: nil, acceptLanguage: "en-US,en;q=0.9,zh-CN;q=0.8") == .en)
        #expect(Language.negotiate(cookie: nil, acceptLanguage: "zh-TW;q=0.5, en;q=0.4") == .zh)
        #expect(Language.negotiate(cookie: "en", acceptLanguage: "zh-CN") == .en)
        #expect(Language.negotiate(cookie: "xx", acceptLanguage: "en") == .en)
    }

    @Test("multipart and URL-encoded forms are read, repeated names kept")
    func formParsing() throws {
        let form = WebForm.urlEncoded("a=1&c=nanny&c=elder_care&name=%E7%8E%8B+%E8%8A%B3&empty=")
        #expect(form.all("c") == ["nanny", "elder_care"])
        #expect(form["name"] == "王 芳")
        #expect(form["empty"] == "")
        let body =
            "--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\ntok\r\n"
            + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n"
            + "id_number,full_name\r\n1,王芳\r\n\r\n--XyZ--\r\n"
        let multipart = try WebForm.multipart(Array(body.utf8), boundary: "XyZ")
        #expect(multipart["csrf_token"] == "tok")
        // A file is kept once, as bytes; its field's value is its name.
        #expect(multipart["file"] == "a.csv")
        #expect(multipart.files["file"]?.first.map { String(decoding: $0.bytes, as: UTF8.self) } == "id_number,full_name\r\n1,王芳\r\n")
        #expect(WebForm.boundary("multipart/form-data; boundary=\"abc\"") == "abc")
        // However the body arrives in pieces (a delimiter split across them), the parts are the same.
        for chunk in [1, 3, 7, 64] {
            let pieces = try WebForm.multipart(Array(body.utf8), boundary: "XyZ", chunk: chunk)
            #expect(
                pieces["csrf_token"] == "tok" && pieces.files["file"]?.first?.bytes == multipart.files["file"]?.first?.bytes,
                "chunks of \(chunk)"
            )
        }
        // A body cut before its closing delimiter is malformed.
        #expect(throws: RegistryError.self) { try WebForm.multipart(Array(body.utf8.dropLast(12)), boundary: "XyZ") }
    }
}

// MARK: - Support

/// A browser stand-in: keeps cookies and the current CSRF token between requests.
struct PageClient {
    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    let client: any TestClientProtocol
    var cookies: [String: String] = [:]
    var csrf: String?

    init(client: any TestClientProtocol) { self.client = client }

    static func csrf(in html: String) -> String? {
        guard let match = html.firstMatch(of: #/name="csrf_token" value="([^"]+)"/#) else { return nil }
        return String(match.output.1)
    }

    var cookieHeader: HTTPFields {
        cookies.isEmpty ? [:] : [.cookie: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
    }

    mutating func remember(_ response: TestResponse) {
        for line in response.headers[values: .setCookie] {
            let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            if line.contains("Max-Age=0") { cookies[String(pair[0])] = nil } else { cookies[String(pair[0])] = String(pair[1]) }
        }
        if let token = Self.csrf(in: String(buffer: response.body)) { csrf = token }
    }

    mutating func get(_ path: String) async throws -> TestResponse {
        let response = try await client.execute(uri: path, method: .get, headers: cookieHeader)
        remember(response)
        return response
    }

    enum Token {
        case current, none
        case value(String)
    }

    /// Posts a form with the current CSRF token, none, or a given one.
    mutating func post(_ path: String, _ fields: [String: String], csrf choice: Token = .current) async throws -> TestResponse {
        var all = fields
        switch choice {
        case .current: all["csrf_token"] = csrf
        case .none: break
        case .value(let token): all["csrf_token"] = token
        }
        let body = all.map { "\($0.key)=\(PageScope.queryEncode($0.value))" }.joined(separator: "&")
        var headers = cookieHeader
        headers[.contentType] = "application/x-www-form-urlencoded"
        let response = try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
        remember(response)
        return response
    }

    mutating func signIn(email: String, password: String) async throws -> TestResponse {
        _ = try await get("/signin")
        let response = try await post("/signin", ["account": email, "password": password, "next": "/"])
        // Land on the role's home page, as a browser would, to pick up the session's token.
        var next = response.headers[.location]
        while let location = next {
            next = try await get(location).headers[.location]
        }
        return response
    }
}

enum PagesFixtures {
    static func idNumber(birth: String = "19850615", serial: Int) -> String {
        let body = "320102" + birth + String(format: "%03d", serial)
        return body + String(NationalID.checkCharacter(for: body)!)
    }

    static func uscc(_ n: Int) -> String {
        let body = "91320100MB" + String(format: "%07d", n)
        return body + String(SocialCreditCode.checkCharacter(for: body)!)
    }
}

extension Registry {
    /// An approved agency whose contact can sign in.
    func pagesAgency(_ n: Int) async throws -> (id: AgencyID, email: String, password: String, caller: Caller) {
        let email = "pages\(n)@agency.cn"
        let password = "agency password \(n)"
        let (agencyID, userID) = try await agencies.apply(
            .init(
                name: "Agency \(n)",
                uscc: PagesFixtures.uscc(n),
                regionCode: "320102",
                contactName: "Contact \(n)",
                contactPhone: nil,
                contactEmail: email,
                password: password,
                representative: "法定代表人",
                commitmentVersion: policies.commitments.agency.version
            ),
            caller: .system,
            logger: testLogger
        )
        _ = try await agencies.decide(agencyID, .approve, reason: nil, caller: try await pagesAdmin(), logger: testLogger)
        let caller = Caller(
            Principal(
                .user(
                    id: userID,
                    role: .agencyStaff,
                    agencyID: agencyID,
                    workerID: nil
                )
            )
        )
        // Her own credit commitment, accepted at first sign-in (the agency's came with the application).
        _ = try await commitments.accept(.init(kind: "staff", version: policies.commitments.staff.version), caller: caller, logger: testLogger)
        return (agencyID, email, password, caller)
    }

    func pagesAdmin() async throws -> Caller {
        let id = try await makeUser(
            role: .admin,
            email: "pages-admin-\(UUID().uuidString.prefix(8).lowercased())@example.cn",
            password: "admin password!"
        )
        return Caller(Principal(.user(id: UserID(id), role: .admin, agencyID: nil, workerID: nil)))
    }
}
