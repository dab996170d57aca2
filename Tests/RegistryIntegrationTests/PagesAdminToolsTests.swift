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

/// The administrators' tools over the real HTTP stack: integration sources and their keys (a
/// key shown once), the audit log with its filters, paging and chain verification, and the
/// review and flag dispute queues with their decision forms.
@Suite("Web pages: administrators' tools")
struct PagesAdminToolsTests {
    static let password = "admin tools password"

    /// A signed-in administrator's page client.
    static func admin(_ registry: Registry, _ client: any TestClientProtocol, email: String = "tools@pages.cn") async throws -> (PageClient, UUID) {
        let id = try await registry.makeUser(role: .admin, email: email, password: password)
        var page = PageClient(client: client)
        _ = try await page.signIn(email: email, password: password)
        return (page, id)
    }

    static func sourceCount(_ registry: Registry) async throws -> Int {
        try await registry.flags.sources(logger: testLogger).count
    }

    static func keys(_ registry: Registry, _ source: String) async throws -> [FlagService.Key] {
        try await registry.flags.sources(logger: testLogger).first { $0.id == source }?.keys ?? []
    }

    static func html(_ response: TestResponse) -> String { String(buffer: response.body) }

    static func eventIDs(_ html: String) -> [Int64] {
        html.matches(of: #/id="event-([0-9]+)"/#).compactMap { Int64(String($0.output.1)) }
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&amp;", with: "&")
    }

    @Test("signed-out visitors are sent to sign in; an employer and agency staff are refused every page and form, and nothing changes")
    func access() async throws {
        try await withTestApp { registry, _, client in
            let id = UUID().uuidString.lowercased()
            let pages = [
                "/admin/integrations", "/admin/audit", "/admin/disputes", "/admin/flag-disputes", "/admin/disputes/\(id)",
                "/admin/flag-disputes/\(id)", "/admin/integrations/\(id)/keys/\(id)/revoke",
            ]
            for path in pages {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location]?.hasPrefix("/signin?next=") == true, "\(path)")
            }

            _ = try await Household.make(registry)
            var employer = PageClient(client: client)
            _ = try await employer.signIn(email: "home@example.cn", password: PagesEmployerTests.employerPassword)
            var staff = PageClient(client: client)
            _ = try await staff.signIn(email: "staff1@agency.cn", password: "agency password 1")
            let before = try await registry.fingerprint()
            for var other in [employer, staff] {
                for path in pages {
                    let response = try await other.get(path)
                    #expect(response.status == .forbidden, "\(path)")
                    #expect(!Self.html(response).contains("name=\"source_name\""))
                }
                // With the caller's own valid token: still refused, before anything is read or done.
                let created = try await other.post("/admin/integrations", ["source_name": "evil-src", "display_name": "Evil", "kind": "police"])
                #expect(created.status == .forbidden)
                #expect(try await other.post("/admin/audit/verify", [:]).status == .forbidden)
                #expect(try await other.post("/admin/disputes/\(id)/decision", ["decision": "uphold", "note": "x"]).status == .forbidden)
                #expect(try await other.post("/admin/flag-disputes/\(id)/decision", ["decision": "reject", "note": "x"]).status == .forbidden)
                #expect(try await other.post("/admin/integrations/\(id)/keys", ["label": "x"]).status == .forbidden)
                #expect(try await other.post("/admin/integrations/\(id)/keys/\(id)/revoke", [:]).status == .forbidden)
            }
            #expect(try await Self.sourceCount(registry) == 0)
            #expect(changedTables(before, try await registry.fingerprint()) == [])
            // Administrators find every tool from their home page and the navigation.
            var admin = try await Self.admin(registry, client).0
            let home = Self.html(try await admin.get("/admin"))
            for href in ["/admin/cases", "/admin/dashboard", "/admin/integrations", "/admin/audit", "/admin/disputes", "/admin/flag-disputes"] {
                #expect(home.contains("href=\"\(href)\""), "\(href)")
            }
            #expect(home.contains("<nav aria-label=\"主导航\">"))
        }
    }

    @Test("an administrator registers a source (its secret shown once), issues a key shown once and never again, and revokes it after confirming")
    func integrations() async throws {
        try await withTestApp { registry, _, client in
            var admin = try await Self.admin(registry, client).0
            let list = try await admin.get("/admin/integrations")
            #expect(list.status == .ok)
            let listHTML = Self.html(list)
            #expect(listHTML.contains("<label for=\"source_name\">"))
            #expect(listHTML.contains("<label for=\"display_name\">"))
            #expect(listHTML.contains("<option value=\"credit_bureau\">征信机构</option>"))
            #expect(listHTML.contains("尚无数据源。"))

            // Refused forms change nothing.
            let fields = ["source_name": "fj-police", "display_name": "福建省公安厅 <b>", "kind": "police", "require_signature": "true"]
            #expect(try await admin.post("/admin/integrations", fields, csrf: .none).status == .forbidden)
            #expect(try await admin.post("/admin/integrations", fields, csrf: .value("forged-token-that-is-long-enough")).status == .forbidden)
            var bad = fields
            bad["source_name"] = "Fj Police!"
            let badName = try await admin.post("/admin/integrations", bad)
            #expect(badName.status == .badRequest)
            let badHTML = Self.html(badName)
            #expect(badHTML.contains("id=\"source_name-error\""))
            #expect(badHTML.contains("请使用 2 至 63 个小写字母"))
            #expect(badHTML.contains("value=\"Fj Police!\""))
            #expect(badHTML.contains("value=\"福建省公安厅 &lt;b&gt;\""))
            #expect(badHTML.contains("<option value=\"police\" selected>"))
            #expect(badHTML.contains("id=\"require_signature\" name=\"require_signature\" type=\"checkbox\" value=\"true\" checked"))
            var noKind = fields
            noKind["kind"] = ""
            let noKindResponse = try await admin.post("/admin/integrations", noKind)
            #expect(noKindResponse.status == .badRequest)
            #expect(Self.html(noKindResponse).contains("id=\"kind-error\""))
            #expect(try await Self.sourceCount(registry) == 0)

            // Registered: the signing secret is on this answer only (no redirect, so never in a URL).
            let created = try await admin.post("/admin/integrations", fields)
            #expect(created.status == .ok)
            #expect(created.headers[.location] == nil)
            #expect(created.headers[.cacheControl] == "no-store")
            let createdHTML = Self.html(created)
            let secret = try #require(createdHTML.firstMatch(of: #/id="issued-secret">([^<]+)</#).map { String($0.output.1) })
            #expect(secret.count >= 40)
            #expect(createdHTML.contains("它只显示这一次"))
            let sources = try await registry.flags.sources(logger: testLogger)
            let source = try #require(sources.first)
            #expect(sources.count == 1 && source.name == "fj-police" && source.kind == "police" && source.requireSignature)
            #expect(source.displayName == "福建省公安厅 <b>")
            let duplicate = try await admin.post("/admin/integrations", fields)
            #expect(duplicate.status == .conflict)
            #expect(Self.html(duplicate).contains("已存在同名的数据源。"))
            #expect(Self.html(duplicate).contains("id=\"source_name-error\""))
            #expect(try await Self.sourceCount(registry) == 1)

            // A key: refused without the token or with a label too long, kept typed; then shown once.
            let keysPath = "/admin/integrations/\(source.id)/keys"
            #expect(try await admin.post(keysPath, ["label": "nightly"], csrf: .none).status == .forbidden)
            let long = String(repeating: "长", count: 101)
            let tooLong = try await admin.post(keysPath, ["label": long])
            #expect(tooLong.status == .badRequest)
            let tooLongHTML = Self.html(tooLong)
            #expect(tooLongHTML.contains("id=\"label-\(source.id)-error\""))
            #expect(tooLongHTML.contains("value=\"\(long)\""))
            #expect(try await Self.keys(registry, source.id).isEmpty)
            #expect(try await admin.post("/admin/integrations/\(UUID().uuidString.lowercased())/keys", ["label": "x"]).status == .notFound)

            let issued = try await admin.post(keysPath, ["label": "夜间导入 <i>"])
            #expect(issued.status == .ok)
            #expect(issued.headers[.location] == nil)
            #expect(issued.headers[.cacheControl] == "no-store")
            let issuedHTML = Self.html(issued)
            let key = try #require(issuedHTML.firstMatch(of: #/id="issued-key">(rik_[^<]+)</#).map { String($0.output.1) })
            #expect(issuedHTML.contains("它只显示这一次"))
            #expect(issuedHTML.contains("夜间导入 &lt;i&gt;"))
            let authenticated = try await registry.flags.authenticate(key: key, logger: testLogger)
            #expect(authenticated?.source.id.uuidString.lowercased() == source.id)
            let stored = try #require(try await Self.keys(registry, source.id).first)
            #expect(key.hasPrefix(stored.keyPrefix))
            #expect(try await registry.auditCount("integration.key_issued") == 1)

            // Never again: the list shows only its first characters, and neither secret.
            let after = Self.html(try await admin.get("/admin/integrations"))
            #expect(after.contains(stored.keyPrefix + "…"))
            #expect(!after.contains(key))
            #expect(!after.contains(secret))
            #expect(after.contains("夜间导入 &lt;i&gt;"))
            let revokePath = "/admin/integrations/\(source.id)/keys/\(stored.id.text)/revoke"
            #expect(after.contains("href=\"\(revokePath)\""))

            // Revoking: a confirmation page, then the POST (with its token).
            let confirm = try await admin.get(revokePath)
            #expect(confirm.status == .ok)
            let confirmHTML = Self.html(confirm)
            #expect(confirmHTML.contains("action=\"\(revokePath)\""))
            #expect(confirmHTML.contains("作废此密钥？"))
            #expect(!confirmHTML.contains(key))
            #expect(try await admin.post(revokePath, [:], csrf: .none).status == .forbidden)
            #expect(try await registry.flags.authenticate(key: key, logger: testLogger) != nil)
            let revoked = try await admin.post(revokePath, [:])
            #expect(revoked.status == .seeOther)
            #expect(revoked.headers[.location] == "/admin/integrations?notice=key_revoked#source-\(source.id)")
            #expect(try await registry.flags.authenticate(key: key, logger: testLogger) == nil)
            let afterRevoke = Self.html(try await admin.get(revoked.headers[.location]!))
            #expect(afterRevoke.contains("密钥已作废"))
            #expect(afterRevoke.contains("已作废"))
            #expect(!afterRevoke.contains("href=\"\(revokePath)\""))
            #expect(try await admin.get(revokePath).status == .notFound)
            #expect(try await admin.post(revokePath, [:]).status == .notFound)
            #expect(try await registry.auditCount("integration.key_revoked") == 1)
        }
    }

    @Test("the audit log: newest first, a page at a time, filtered by action, actor and subject; bad filters inline; no details shown")
    func auditLog() async throws {
        try await withTestApp { registry, _, client in
            let worker = UUID()
            let idNumber = Fixtures.idNumber(serial: 377)
            try await registry.database.transaction(logger: testLogger) { connection in
                for n in 0..<60 {
                    try await AuditStore.append(
                        AuditEvent(
                            actorKind: .system,
                            actorID: nil,
                            actorRole: "system",
                            action: "test.filler",
                            subjectType: "worker",
                            subjectID: n == 0 ? worker.uuidString.lowercased() : nil,
                            requestID: nil,
                            details: ["id_number": .string(idNumber), "n": .string(String(n))]
                        ),
                        on: connection,
                        logger: testLogger
                    )
                }
            }
            let (signedIn, adminID) = try await Self.admin(registry, client)
            var admin = signedIn
            let first = try await admin.get("/admin/audit")
            #expect(first.status == .ok)
            let html = Self.html(first)
            let ids = Self.eventIDs(html)
            #expect(ids.count == AuditPages.pageSize)
            #expect(ids == ids.sorted(by: >))
            #expect(html.contains(">auth.login</a>"))
            #expect(html.contains("Test admin · 管理员"))  // the actor by name and role
            #expect(html.contains("登记系统"))
            #expect(!html.contains(idNumber))  // details are never shown
            #expect(html.contains("<form method=\"post\" action=\"/admin/audit/verify\""))

            // The next page continues below the last id, keeping the filter.
            let filtered = try await admin.get("/admin/audit?action=test.")
            let filteredHTML = Self.html(filtered)
            let page1 = Self.eventIDs(filteredHTML)
            #expect(page1.count == 50)
            #expect(!filteredHTML.contains(">auth.login</a>"))
            let older = try #require(
                filteredHTML.firstMatch(of: #/href="([^"]+)" rel="next" id="older-events"/#).map { Self.unescape(String($0.output.1)) }
            )
            #expect(older == "/admin/audit?action=test.&before=\(page1.last!)")
            let second = Self.html(try await admin.get(older))
            let page2 = Self.eventIDs(second)
            #expect(page2.count == 10)
            #expect(page2.allSatisfy { $0 < page1.last! })
            #expect(!second.contains("id=\"older-events\""))
            #expect(second.contains("href=\"/admin/audit?action=test.\" rel=\"first\""))

            // By actor (the link on each event) and by subject.
            let mine = Self.html(try await admin.get("/admin/audit?actor=\(adminID.uuidString.lowercased())"))
            #expect(mine.contains(">auth.login</a>"))
            #expect(!mine.contains(">test.filler</a>"))
            let subject = Self.html(try await admin.get("/admin/audit?subject_type=worker&subject_id=\(worker.uuidString.lowercased())"))
            #expect(Self.eventIDs(subject).count == 1)
            #expect(subject.contains("<option value=\"worker\" selected>人员档案</option>"))
            #expect(subject.contains("href=\"/admin/audit?subject_type=worker&amp;subject_id=\(worker.uuidString.lowercased())\""))
            #expect(subject.contains("href=\"/agency/workers/\(worker.uuidString.lowercased())\""))

            // A malformed filter is an error next to its field, with what was typed.
            let badActor = try await admin.get("/admin/audit?actor=not-an-id")
            #expect(badActor.status == .badRequest)
            #expect(Self.html(badActor).contains("id=\"actor-error\""))
            #expect(Self.html(badActor).contains("value=\"not-an-id\""))
            #expect(Self.eventIDs(Self.html(badActor)).isEmpty)
            let badAction = try await admin.get("/admin/audit?action=%3Cscript%3E")
            #expect(badAction.status == .badRequest)
            #expect(Self.html(badAction).contains("id=\"action-error\""))
            #expect(Self.html(badAction).contains("value=\"&lt;script&gt;\""))
            #expect(try await admin.get("/admin/audit?before=-3").status == .badRequest)
        }
    }

    @Test("verifying the chain by its form: the count when intact, the broken link and why after tampering; the token is required")
    func auditVerify() async throws {
        try await withTestApp { registry, endpoint, client in
            try await registry.database.transaction(logger: testLogger) { connection in
                for _ in 0..<3 {
                    try await AuditStore.append(
                        AuditEvent(
                            actorKind: .system,
                            actorID: nil,
                            actorRole: "system",
                            action: "test.filler",
                            subjectType: "worker",
                            subjectID: nil,
                            requestID: nil,
                            details: [:]
                        ),
                        on: connection,
                        logger: testLogger
                    )
                }
            }
            var admin = try await Self.admin(registry, client).0
            _ = try await admin.get("/admin/audit")
            #expect(try await admin.post("/admin/audit/verify", [:], csrf: .none).status == .forbidden)
            let verified = try await admin.post("/admin/audit/verify", [:])
            #expect(verified.status == .ok)
            let html = Self.html(verified)
            let count = try #require(html.firstMatch(of: #/哈希链完整：已校验 ([0-9]+) 条事件。/#).flatMap { Int(String($0.output.1)) })
            #expect(count >= 4)
            let head = try await AuditStore.head(database: registry.database, logger: testLogger)
            #expect(head.seq == Int64(count))
            #expect(html.contains("id=\"verify-head\">\(head.hash.prefix(16))…"))
            // Each event's hash, shortened; never the whole of it.
            #expect(html.contains("\(head.hash.prefix(12))…</span>"))
            #expect(!html.contains(head.hash))

            // In English too.
            _ = try await admin.get("/lang/en?next=/admin/audit")
            let english = Self.html(try await admin.post("/admin/audit/verify", [:]))
            #expect(english.contains("The chain is intact: "))
            #expect(english.contains("events verified."))
            _ = try await admin.get("/lang/zh-CN?next=/admin/audit")

            // The database owner edits a chained row behind the service's back.
            try await asOwner(endpoint) { client in
                try await client.query("ALTER TABLE audit_log DISABLE TRIGGER USER", logger: testLogger)
                try await client.query(
                    """
                    UPDATE audit_log SET details = '{"forged": true}' WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 2)
                    """,
                    logger: testLogger
                )
                try await client.query("ALTER TABLE audit_log ENABLE TRIGGER USER", logger: testLogger)
            }
            let broken = try await admin.post("/admin/audit/verify", [:])
            #expect(broken.status == .ok)
            let brokenHTML = Self.html(broken)
            #expect(brokenHTML.contains("哈希链在第 2 个链接处断开"))
            #expect(brokenHTML.contains("id=\"verify-reason\">该事件在写入后被修改过。<"))
            #expect(brokenHTML.contains("class=\"callout danger verification\""))
        }
    }

    @Test("review disputes: listed, the review shown, a note required (kept inline), uphold hides the review; the token is required")
    func reviewDisputes() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let engagement = try await registry.engagement(h, startsOn: CivilDate.today().iso, confirmedBy: h.employer)
            let reviewID = try await registry.engagements.review(
                engagement: engagement,
                .init(
                    skillScores: ["punctuality": 2, "quality": 2],
                    ethicsScores: ["honesty": 1, "respect": 2, "reliability": 2, "care": 2],
                    comment: "她<b>偷懒</b>"
                ),
                caller: h.employer,
                logger: testLogger
            )
            let disputeID = try await registry.engagements.dispute(reviewID, reason: "评价与事实不符 <script>", caller: h.worker, logger: testLogger)
            let path = "/admin/disputes/\(disputeID.uuidString.lowercased())"

            var admin = try await Self.admin(registry, client).0
            let list = Self.html(try await admin.get("/admin/disputes"))
            #expect(list.contains("href=\"\(path)\""))
            #expect(list.contains("评价与事实不符 &lt;script&gt;"))
            #expect(list.contains("href=\"/admin/flag-disputes\""))
            let page = try await admin.get(path)
            #expect(page.status == .ok)
            let pageHTML = Self.html(page)
            #expect(pageHTML.contains("她&lt;b&gt;偷懒&lt;/b&gt;"))
            #expect(pageHTML.contains("<label for=\"note\">"))
            #expect(pageHTML.contains("href=\"/agency/workers/\(h.workerID.text)\""))
            #expect(pageHTML.contains("李秀英"))

            let decision = "\(path)/decision"
            #expect(try await admin.post(decision, ["decision": "uphold", "note": "雇主承认有误"], csrf: .none).status == .forbidden)
            let noNote = try await admin.post(decision, ["decision": "uphold", "note": "  "])
            #expect(noNote.status == .badRequest)
            #expect(Self.html(noNote).contains("id=\"note-error\""))
            let unknown = try await admin.post(decision, ["decision": "delete", "note": "删除 <它>"])
            #expect(unknown.status == .badRequest)
            #expect(Self.html(unknown).contains("请选择处理决定。"))
            #expect(Self.html(unknown).contains("删除 &lt;它&gt;</textarea>"))
            #expect(try await registry.engagements.openDisputes(logger: testLogger).count == 1)

            let upheld = try await admin.post(decision, ["decision": "uphold", "note": "雇主承认有误"])
            #expect(upheld.status == .seeOther)
            #expect(upheld.headers[.location] == "/admin/disputes?notice=dispute_upheld")
            #expect(try await registry.engagements.openDisputes(logger: testLogger).isEmpty)
            let reviews = try await registry.database.withConnection { connection in
                try await ReviewStore.forWorker(h.workerID.uuid, includeHidden: true, on: connection, logger: testLogger)
            }
            #expect(reviews.first?.hiddenReason == "雇主承认有误")
            let after = Self.html(try await admin.get(upheld.headers[.location]!))
            #expect(after.contains("已支持申诉"))
            #expect(after.contains("没有待处理的申诉。"))
            #expect(try await admin.get(path).status == .notFound)
            #expect(try await registry.auditCount("review.hidden", subject: reviewID) == 1)
        }
    }

    @Test("flag disputes: listed with the record, answered by a form (note required); asking the source to retract leaves the flag as it is")
    func flagDisputes() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let (sourceID, _, _, police) = try await registry.source("police-pages", kind: "police")
            let result = try await registry.flags.submit(
                [flag(Fixtures.idNumber(serial: 101), "FD-7", "fraud", severity: 1, status: "alleged")],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            let flagID = try #require(result.first?.flagId.flatMap(UUID.init(uuidString:)))
            let disputeID = try await registry.flags.dispute(flagID: flagID, reason: "我从未涉及此事", caller: h.worker, logger: testLogger)
            let path = "/admin/flag-disputes/\(disputeID.uuidString.lowercased())"

            var admin = try await Self.admin(registry, client).0
            let list = Self.html(try await admin.get("/admin/flag-disputes"))
            #expect(list.contains("href=\"\(path)\""))
            #expect(list.contains("police-pages · FD-7"))
            #expect(list.contains("<h2>诈骗</h2>"))
            #expect(!list.contains("内部叙述"))  // the police narrative is not for this page
            let page = Self.html(try await admin.get(path))
            #expect(page.contains("我从未涉及此事"))
            for value in DisputePages.flagDecisions {
                #expect(page.contains("name=\"decision\" value=\"\(value)\""), "\(value)")
            }

            let decision = "\(path)/decision"
            #expect(try await admin.post(decision, ["decision": "request_retraction", "note": "请核实"], csrf: .none).status == .forbidden)
            let noNote = try await admin.post(decision, ["decision": "request_retraction", "note": ""])
            #expect(noNote.status == .badRequest)
            #expect(Self.html(noNote).contains("id=\"note-error\""))
            #expect(try await registry.flags.disputes(openOnly: true, logger: testLogger).count == 1)

            let asked = try await admin.post(decision, ["decision": "request_retraction", "note": "请核实后撤回"])
            #expect(asked.headers[.location] == "/admin/flag-disputes?notice=flag_dispute_retraction_requested")
            #expect(try await registry.flags.disputes(openOnly: true, logger: testLogger).isEmpty)
            #expect(try await registry.auditCount("flag.dispute_retraction_requested", subject: flagID) == 1)
            let own = try await registry.flags.ownFlags(caller: h.worker, logger: testLogger)
            #expect(own.first?.status == "alleged")
            let after = Self.html(try await admin.get(asked.headers[.location]!))
            #expect(after.contains("已请求数据源撤回该记录。"))
            // Answered already: refused (409), the answer stands.
            let again = try await admin.post(decision, ["decision": "reject", "note": "again"])
            #expect(again.status == .conflict)
            #expect(Self.html(again).contains("该申诉已经处理过了。"))
            #expect(try await admin.get(path).status == .notFound)
        }
    }
}
