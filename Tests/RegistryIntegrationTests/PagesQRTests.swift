import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Mustache
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// The consent code's QR link: the worker's page shows the check page's address with her code
/// as text and as an SVG QR code; the check page fills the code in from the link (after sign-in
/// when needed) and never shows back anything else that is put in the link.
@Suite("Web pages: the consent code's QR link")
struct PagesQRTests {
    static let library: MustacheLibrary = try! PageKit.loadTemplates(directory: PagesTextTests.web + "/templates")

    /// The dark modules an SVG path of `QRCodeSVG` draws, as a matrix without the quiet zone,
    /// and the smallest coordinate used (the quiet zone must stay empty).
    static func modules(ofPath d: String, size: Int) -> (matrix: [[Bool]], smallest: Int, largest: Int) {
        var matrix = Array(repeating: Array(repeating: false, count: size), count: size)
        var smallest = Int.max
        var largest = Int.min
        for run in d.matches(of: #/M(\d+) (\d+)h(\d+)v1h-(\d+)z/#) {
            let x = Int(run.output.1)!
            let y = Int(run.output.2)!
            let width = Int(run.output.3)!
            #expect(Int(run.output.4)! == width)
            smallest = min(smallest, x, y)
            largest = max(largest, x + width - 1, y)
            for column in x..<(x + width) where (4..<(size + 4)).contains(column) && (4..<(size + 4)).contains(y) {
                matrix[y - 4][column - 4] = true
            }
        }
        return (matrix, smallest, largest)
    }

    static func attribute(_ name: String, in html: String) -> String? {
        html.firstMatch(of: try! Regex("\\s\(name)=\"([^\"]*)\"")).map { String($0.output[1].substring ?? "") }
    }

    @Test("after issuing a code her page shows the check link as text and as an SVG QR code of exactly that link")
    func workerSeesQRCode() async throws {
        try await withTestApp { registry, _, client in
            _ = try await Household.make(registry)
            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: PagesEmployerTests.phone(1), password: PagesEmployerTests.workerPassword)
            #expect(!String(buffer: try await worker.get("/worker").body).contains("issued-qr"))
            let issued = try await worker.post("/worker/consents", [:])
            #expect(issued.status == .ok)
            let html = String(buffer: issued.body)
            let code = try #require(PagesEmployerTests.issuedCode(html))
            // The test client asks for host "localhost" over plain HTTP.
            let link = "http://localhost/check?code=\(code)"
            #expect(html.contains("id=\"issued-link\" class=\"mono link-text\">\(link)</a>"))
            #expect(html.contains("href=\"/check?code=\(code)\""))

            let figure = try #require(html.range(of: "<figure class=\"qr-figure\">"))
            let start = try #require(html.range(of: "<svg ", range: figure.upperBound..<html.endIndex))
            let end = try #require(html.range(of: "</svg>", range: start.upperBound..<html.endIndex))
            let svg = String(html[start.lowerBound..<end.upperBound])
            #expect(svg.contains("id=\"issued-qr\""))
            #expect(svg.contains("role=\"img\""))
            #expect(svg.contains("aria-labelledby=\"issued-qr-title\""))
            #expect(svg.contains("shape-rendering=\"crispEdges\""))
            #expect(svg.contains("<title id=\"issued-qr-title\">二维码：\(link)</title>"))
            #expect(!svg.contains("style"))
            #expect(svg.components(separatedBy: "<path ").count == 2, "one path for all the dark modules")

            let expected = try QRCode.encode(link)
            let side = expected.size + 8
            #expect(Self.attribute("viewBox", in: svg) == "0 0 \(side) \(side)")
            let d = try #require(Self.attribute("d", in: svg))
            let drawn = Self.modules(ofPath: d, size: expected.size)
            #expect(drawn.matrix == expected.modules, "the SVG draws the QR code of the link shown")
            #expect(drawn.smallest >= 4 && drawn.largest < side - 4, "a quiet zone of four modules")
            #expect(expected.version <= 10)

            // Shown once: her page later lists the code's state, never the code or its QR code.
            let later = String(buffer: try await worker.get("/worker").body)
            #expect(!later.contains(code))
            #expect(!later.contains("issued-qr"))

            // English: the same QR code with the English title and caption.
            worker.cookies["lang"] = "en"
            let en = String(buffer: try await worker.post("/worker/consents", [:]).body)
            let second = try #require(PagesEmployerTests.issuedCode(en))
            #expect(en.contains("<title id=\"issued-qr-title\">QR code for http://localhost/check?code=\(second)</title>"))
            #expect(en.contains("it opens the check page with your code filled in"))
            #expect(!en.contains("⟦"))
        }
    }

    @Test("an employer who opens the link signed out signs in and comes back to the check form with the code filled in")
    func employerOpensLink() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let issued = try await registry.consents.issue(caller: h.worker, logger: testLogger)
            let code = try #require(issued.code)
            let typed = "/check?code=\(code.lowercased().prefix(4))-\(code.suffix(4))"

            var employer = PageClient(client: client)
            let away = try await employer.get(typed)
            #expect(away.status == .seeOther)
            let signInPath = try #require(away.headers[.location])
            #expect(signInPath == "/signin?next=" + PageScope.queryEncode(typed))
            let signInPage = String(buffer: try await employer.get(signInPath).body)
            #expect(signInPage.contains("name=\"next\" value=\"\(typed)\""))
            let signedIn = try await employer.post(
                "/signin",
                [
                    "account": "home@example.cn", "password": PagesEmployerTests.employerPassword,
                    "next": typed,
                ]
            )
            #expect(signedIn.status == .seeOther)
            #expect(signedIn.headers[.location] == typed)

            let form = try await employer.get(typed)
            #expect(form.status == .ok)
            let html = String(buffer: form.body)
            #expect(html.contains("id=\"code\" name=\"code\" type=\"text\" value=\"\(code)\""))
            #expect(html.contains("id=\"code-prefilled\""))
            #expect(html.contains("code-hint code-prefilled"))
            let redeemed = try await employer.post("/check", ["code": code])
            #expect(redeemed.status == .seeOther)
            #expect(redeemed.headers[.location] == "/employer/workers/\(h.workerID.text)/report")

            // Without a code in the link the form is empty, with no "filled in" hint.
            let plain = String(buffer: try await employer.get("/check").body)
            #expect(plain.contains("name=\"code\" type=\"text\" value=\"\""))
            #expect(!plain.contains("code-prefilled"))
        }
    }

    @Test("after sign-in only a path of this site is followed, whatever the link says")
    func onlyLocalReturnPaths() async throws {
        try await withTestApp { registry, _, client in
            _ = try await Household.make(registry)
            for next in [
                "//evil.example/check?code=ABCD2345", "https://evil.example/check?code=ABCD2345", "/\\evil.example/check",
                "javascript:alert(1)", "/signin?next=/check",
            ] {
                var employer = PageClient(client: client)
                _ = try await employer.get("/signin?next=" + PageScope.queryEncode(next))
                let response = try await employer.post(
                    "/signin",
                    [
                        "account": "home@example.cn",
                        "password": PagesEmployerTests.employerPassword, "next": next,
                    ]
                )
                #expect(response.status == .seeOther, "\(next)")
                #expect(response.headers[.location] == "/", "\(next)")
            }
            // Signed out, a link with a foreign-looking query still returns only to this site's path.
            let away = try await client.execute(uri: "/check?code=%2F%2Fevil.example", method: .get)
            #expect(away.headers[.location]?.hasPrefix("/signin?next=/check%3Fcode%3D") == true)
        }
    }

    @Test("anything in ?code= that is not a consent code is not shown back; markup never becomes an element")
    func badCodesAreHarmless() async throws {
        try await withTestApp { registry, _, client in
            _ = try await Household.make(registry)
            var employer = PageClient(client: client)
            _ = try await employer.signIn(email: "home@example.cn", password: PagesEmployerTests.employerPassword)
            let idNumber = PagesFixtures.idNumber(serial: 321)
            for raw in [
                "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", "ABCD2345%22%20autofocus%20onfocus%3Dalert(1)", idNumber,
                "ABCD234", "ABCD23456", "%EF%BC%A1BCD2345", String(repeating: "A", count: 300),
            ] {
                let response = try await employer.get("/check?code=" + raw)
                #expect(response.status == .ok, "\(raw)")
                // (The language switch link carries the address as typed, percent-encoded: left out.)
                let html = String(buffer: response.body).replacing(#/<a class="lang" href="[^"]*"/#, with: "")
                #expect(html.contains("name=\"code\" type=\"text\" value=\"\""), "\(raw)")
                #expect(!html.contains("code-prefilled"), "\(raw)")
                #expect(!html.contains("<script"), "\(raw)")
                #expect(!html.contains("onfocus"), "\(raw)")
                #expect(!html.contains(idNumber), "\(raw)")
            }
            #expect(EmployerPages.linkedCode(" abcd-2345 ") == "ABCD2345")
            #expect(EmployerPages.linkedCode("ABCD 2345") == "ABCD2345")
            #expect(EmployerPages.linkedCode("\"><b>x</b>") == nil)
            #expect(EmployerPages.linkedCode("ＡBCD2345") == nil)
            #expect(EmployerPages.linkedCode(nil) == nil)
        }
    }

    @Test("the QR drawing: quiet zone of four, one path covering exactly the dark modules, escaped title, no style")
    func drawing() throws {
        let code = try QRCode.encode("http://localhost/check?code=ABCD2345")
        let node = QRCodeSVG.node(code, id: "q", title: "QR <b>&amp; \"x\"")
        let html = Self.library.render(node.view, withTemplate: "_svg") ?? ""
        #expect(html.hasPrefix("<svg "))
        #expect(html.contains("<title id=\"q-title\">QR &lt;b&gt;&amp;amp; &quot;x&quot;</title>"))
        #expect(!html.contains("<b>"))
        #expect(!html.contains("style="))
        #expect(html.contains("<rect width=\"\(code.size + 8)\" height=\"\(code.size + 8)\" fill=\"#ffffff\">"))
        let paths = node.all.filter { $0.name == "path" }
        #expect(paths.count == 1)
        let drawn = Self.modules(ofPath: try #require(paths.first?.attribute("d")), size: code.size)
        #expect(drawn.matrix == code.modules)
        #expect(drawn.smallest == 4 && drawn.largest == code.size + 3)
        #expect(node.attribute("width") == "\((code.size + 8) * 4)")
    }

    @Test("the link's host is used only when it is a plain host name or address with an optional port")
    func hosts() {
        for good in ["localhost", "registry.example.gov.cn", "registry.example.gov.cn:8443", "127.0.0.1:8080", "[::1]:8080", "[2001:db8::1]"] {
            #expect(PageScope.isPlainAuthority(good), "\(good)")
        }
        for bad in [
            "", "evil.example/path", "a b", "user@evil.example", "host:port", "host:123456", "-a.example", "a..b", "[::1]x",
            "\"><script>", "host:", "exa_mple.cn", "例子.cn", String(repeating: "a", count: 64) + ".cn",
        ] {
            #expect(!PageScope.isPlainAuthority(bad), "\(bad)")
        }
    }
}
