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

/// The revocation case pages over the real HTTP stack: filing with evidence in a multipart
/// form, the case page for each party, the administrators' steps with four eyes, the objection.
@Suite("Web pages: revocation cases")
struct PagesCaseTests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0, count: 24)
    static let pdf: [UInt8] = Array("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".utf8)

    /// A household with a confirmed engagement with the worker (so the employer may file).
    static func engaged(_ registry: Registry) async throws -> Household {
        let h = try await Household.make(registry)
        _ = try await registry.engagement(h, startsOn: CivilDate.today().iso, confirmedBy: h.employer)
        return h
    }

    static func caseCount(_ registry: Registry) async throws -> Int {
        for try await n in try await registry.database.query("SELECT count(*)::int FROM cases", logger: testLogger).decode(Int.self) { return n }
        return 0
    }

    static func caseID(_ location: String?) -> CaseID? {
        guard let location, let match = location.firstMatch(of: #/^/cases/([0-9a-f-]{36})/#) else { return nil }
        return CaseID(String(match.output.1))
    }

    @Test("anonymous visitors are sent to sign in from every case page; a form post without a session goes to /signin")
    func anonymous() async throws {
        try await withTestApp { _, _, client in
            let id = UUID().uuidString.lowercased()
            for path in ["/cases/\(id)", "/admin/cases", "/employer/workers/\(id)/case/new"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location]?.hasPrefix("/signin?next=") == true, "\(path)")
            }
            let post = try await client.execute(
                uri: "/cases/\(id)/commands",
                method: .post,
                headers: PageClient.formHeaders,
                body: ByteBuffer(string: "command=start_review&reason=x")
            )
            #expect(post.status == .seeOther)
            #expect(post.headers[.location] == "/signin")
        }
    }

    @Test("the employer files a case with a PNG and a PDF in a multipart form (CSRF checked first, wrong types refused inline) and downloads them")
    func fileWithEvidence() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Self.engaged(registry)
            let worker = h.workerID.text
            var employer = PageClient(client: client)
            _ = try await employer.signIn(email: "home@example.cn", password: PagesEmployerTests.employerPassword)
            let home = String(buffer: try await employer.get("/employer").body)
            #expect(home.contains("href=\"/employer/workers/\(worker)/case/new\""))
            let form = try await employer.get("/employer/workers/\(worker)/case/new")
            #expect(form.status == .ok)
            let formHTML = String(buffer: form.body)
            #expect(formHTML.contains("enctype=\"multipart/form-data\""))
            #expect(formHTML.contains("<option value=\"theft\">盗窃</option>"))
            #expect(formHTML.contains("<label for=\"evidence\">"))

            let fields = ["grounds": "theft", "statement": "丢失了首饰 <script>alert(1)</script>"]
            let files = [("evidence", "photo.png", "image/png", Self.png), ("evidence", "police.pdf", "application/pdf", Self.pdf)]
            let path = "/employer/workers/\(worker)/case"
            let forged = try await employer.postMultipart(path, fields, files: files, csrf: .value("forged-token-that-is-long-enough"))
            #expect(forged.status == .forbidden)
            let none = try await employer.postMultipart(path, fields, files: files, csrf: .none)
            #expect(none.status == .forbidden)
            #expect(try await Self.caseCount(registry) == 0)

            let wrongType = try await employer.postMultipart(path, fields, files: [("evidence", "notes.txt", "text/plain", Array("hello".utf8))])
            #expect(wrongType.status == .unsupportedMediaType)
            let wrongHTML = String(buffer: wrongType.body)
            #expect(wrongHTML.contains("id=\"evidence-error\""))
            #expect(wrongHTML.contains("证据须为 JPEG、PNG 照片或 PDF 文件"))
            #expect(wrongHTML.contains("丢失了首饰 &lt;script&gt;"))
            let disguised = try await employer.postMultipart(path, fields, files: [("evidence", "photo.png", "image/png", Self.pdf)])
            #expect(disguised.status == .unsupportedMediaType)
            let huge = Self.png + Array(repeating: 0, count: registry.policies.revocation.evidenceMaxBytes)
            let tooLarge = try await employer.postMultipart(path, fields, files: [("evidence", "big.png", "image/png", huge)])
            #expect(tooLarge.status == .contentTooLarge)
            #expect(String(buffer: tooLarge.body).contains("id=\"evidence-error\""))
            let noFile = try await employer.postMultipart(path, fields, files: [])
            #expect(noFile.status == .badRequest)
            #expect(String(buffer: noFile.body).contains("id=\"evidence-error\""))
            let noGrounds = try await employer.postMultipart(path, ["grounds": "", "statement": "x"], files: files)
            #expect(noGrounds.status == .badRequest)
            #expect(String(buffer: noGrounds.body).contains("id=\"grounds-error\""))
            #expect(try await Self.caseCount(registry) == 0)

            let filed = try await employer.postMultipart(path, fields, files: files)
            #expect(filed.status == .seeOther)
            let id = try #require(Self.caseID(filed.headers[.location]))
            #expect(filed.headers[.location] == "/cases/\(id.text)?notice=case_filed")
            let page = try await employer.get(filed.headers[.location]!)
            #expect(page.status == .ok)
            let html = String(buffer: page.body)
            #expect(html.contains("案件已连同证据提交"))
            #expect(html.contains("id=\"case-state\">已提交<"))
            #expect(html.contains("丢失了首饰 &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!html.contains("<script>"))
            let links = html.matches(of: #/href="(/api/v1/evidence/[0-9a-f-]{36})"/#).map { String($0.output.1) }
            #expect(links.count == 2)
            #expect(html.contains(">photo.png<") && html.contains(">police.pdf<"))
            // The employer is a requester: no administrator's step, but she may withdraw.
            #expect(!html.contains("value=\"start_review\""))
            #expect(html.contains("value=\"withdraw\""))
            let download = try await employer.get(try #require(links.last))
            #expect(download.status == .ok)
            #expect(Array(download.body.readableBytesView) == Self.pdf)
            #expect(String(buffer: try await employer.get("/employer").body).contains("href=\"/cases/\(id.text)\""))

            // More evidence on the case page, same checks.
            let more = try await employer.postMultipart(
                "/cases/\(id.text)/evidence",
                [:],
                files: [("evidence", "receipt.png", "image/png", Self.png)],
                csrf: .none
            )
            #expect(more.status == .forbidden)
            let added = try await employer.postMultipart(
                "/cases/\(id.text)/evidence",
                [:],
                files: [("evidence", "receipt.png", "image/png", Self.png)]
            )
            #expect(added.headers[.location] == "/cases/\(id.text)?notice=case_evidence_added#evidence")
            let view = try await registry.cases.get(id, caller: try await registry.pagesAdmin(), logger: testLogger)
            #expect(view.evidence?.count == 3)
        }
    }

    @Test(
        "administrators decide by forms: CSRF refused, an illegal step (409) and four eyes (403) shown inline; a second administrator confirms; the worker objects"
    )
    func adjudicate() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Self.engaged(registry)
            let id = try await registry.cases.file(
                .init(workerId: h.workerID.uuid, grounds: "theft", statement: "丢失了首饰"),
                caller: h.employer,
                logger: testLogger
            )
            let path = "/cases/\(id.text)"
            _ = try await registry.makeUser(role: .admin, email: "case-a@example.cn", password: "admin password a")
            _ = try await registry.makeUser(role: .admin, email: "case-b@example.cn", password: "admin password b")
            var a = PageClient(client: client)
            _ = try await a.signIn(email: "case-a@example.cn", password: "admin password a")
            let queue = String(buffer: try await a.get("/admin/cases").body)
            #expect(queue.contains("href=\"\(path)\""))
            #expect(queue.contains("盗窃"))
            #expect(String(buffer: try await a.get("/admin").body).contains("href=\"/admin/cases\""))

            let page = String(buffer: try await a.get(path).body)
            #expect(page.contains("id=\"form-start_review\""))
            #expect(page.contains("<label for=\"reason-start_review\">"))
            #expect(try await a.post("\(path)/commands", ["command": "start_review", "reason": "受理"], csrf: .none).status == .forbidden)
            #expect(
                try await a.post("\(path)/commands", ["command": "start_review", "reason": "受理"], csrf: .value("forged-token-that-is-long-enough"))
                    .status == .forbidden
            )
            #expect(try await registry.cases.get(id, caller: h.employer, logger: testLogger).state == "submitted")

            let started = try await a.post("\(path)/commands", ["command": "start_review", "reason": "受理"])
            #expect(started.headers[.location] == "\(path)?notice=case_acted")
            let again = try await a.post("\(path)/commands", ["command": "start_review", "reason": "again"])
            #expect(again.status == .conflict)
            #expect(String(buffer: again.body).contains("id=\"start_review-error\"") == false)  // the form is gone in this state
            #expect(String(buffer: again.body).contains("当前状态下不能"))
            let noOutcome = try await a.post("\(path)/commands", ["command": "propose_decision", "reason": "证据充分"])
            #expect(noOutcome.status == .badRequest)
            #expect(String(buffer: noOutcome.body).contains("id=\"propose_decision-error\""))
            let proposed = try await a.post("\(path)/commands", ["command": "propose_decision", "reason": "证据充分", "outcome": "upheld"])
            #expect(proposed.status == .seeOther)

            let refused = try await a.post("\(path)/commands", ["command": "confirm_decision", "reason": "我来确认 <b>"])
            #expect(refused.status == .forbidden)
            let refusedHTML = String(buffer: refused.body)
            #expect(refusedHTML.contains("id=\"step-refused\""))
            #expect(refusedHTML.contains("您提出的决定须由另一位管理员确认"))
            // She is not offered that step at all; the refusal is an alert, and her text is never echoed unescaped.
            #expect(!refusedHTML.contains("id=\"form-confirm_decision\"") && !refusedHTML.contains("我来确认 <b>"))
            #expect(try await registry.cases.get(id, caller: h.employer, logger: testLogger).state == "decision_proposed")

            var b = PageClient(client: client)
            _ = try await b.signIn(email: "case-b@example.cn", password: "admin password b")
            let confirmed = try await b.post("\(path)/commands", ["command": "confirm_decision", "reason": "同意"])
            #expect(confirmed.status == .seeOther)
            let after = String(buffer: try await b.get(path).body)
            #expect(after.contains("id=\"case-state\">公示期<"))
            #expect(after.contains("确认决定"))  // in the timeline

            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: PagesEmployerTests.phone(1), password: PagesEmployerTests.workerPassword)
            let home = String(buffer: try await worker.get("/worker").body)
            #expect(home.contains("href=\"\(path)\""))
            let mine = String(buffer: try await worker.get(path).body)
            #expect(mine.contains("id=\"form-object\""))
            #expect(!mine.contains("id=\"form-confirm_decision\""))
            #expect(try await worker.post("\(path)/commands", ["command": "object", "reason": "不属实"], csrf: .none).status == .forbidden)
            let objected = try await worker.post("\(path)/commands", ["command": "object", "reason": "不属实"])
            #expect(objected.status == .seeOther)
            #expect(try await registry.cases.get(id, caller: h.employer, logger: testLogger).state == "objection_review")
            // A worker may not take an administrator's step: refused inline, not a crash.
            let notHers = try await worker.post("\(path)/commands", ["command": "reject_objection", "reason": "x"])
            #expect(notHers.status == .forbidden)
        }
    }
}

extension PageClient {
    /// Posts a multipart form (as a browser does for `<input type=file>`).
    mutating func postMultipart(
        _ path: String,
        _ fields: [String: String],
        files: [(String, String, String, [UInt8])],
        csrf choice: Token = .current
    ) async throws -> TestResponse {
        var all = fields
        switch choice {
        case .current: all["csrf_token"] = csrf
        case .none: break
        case .value(let token): all["csrf_token"] = token
        }
        let boundary = "----pages\(UUID().uuidString.prefix(8))"
        var body: [UInt8] = []
        for (name, value) in all.sorted(by: { $0.key < $1.key }) {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        for (name, filename, type, bytes) in files {
            body += Array(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\nContent-Type: \(type)\r\n\r\n".utf8
            )
            body += bytes + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        var headers = cookieHeader
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        let response = try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: body))
        remember(response)
        return response
    }
}
