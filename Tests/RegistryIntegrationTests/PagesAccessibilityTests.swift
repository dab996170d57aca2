import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// Accessibility, checked structurally on the rendered pages: every GET page of every role (with
/// data on it: engagements, reviews, flags, disputes, a transfer, a case) and the answers to
/// forms (inline errors, the code shown once with its QR code), in Chinese and in English.
/// And the style sheet: text contrast of at least 4.5:1, focus always visible.
@Suite("Web pages: accessibility")
struct PagesAccessibilityTests {
    // MARK: - Every page

    /// The data the pages show, for every role.
    struct Fixture {
        var household: Household
        var worker: String
        var proposed: String
        var reviewed: String
        var otherReview: String
        var openFlag: String
        var transfer: String
        var caseID: String
        var agencyID: String
        var reviewDispute: String
        var flagDispute: String
        var sourceID: String
        var keyID: String
        var tenure: String
        var tenureDispute: String
        var repair: String

        static func make(_ registry: Registry) async throws -> Fixture {
            let h = try await Household.make(registry)
            let today = CivilDate.today().iso
            func place() async throws -> UUID {
                try await registry.engagements.place(
                    .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: today),
                    caller: h.agency,
                    logger: testLogger
                )
            }
            let review = EngagementService.ReviewInput(
                skillScores: ["quality": 4],
                ethicsScores: ["honesty": 5, "respect": 5, "reliability": 4, "care": 5],
                comment: "认真负责"
            )
            // Two reviewed engagements (one review disputed), and one awaiting the household.
            var reviews: [UUID] = []
            for _ in 0..<2 {
                let engagement = try await place()
                _ = try await registry.engagements.transition(engagement, "confirm", caller: h.employer, logger: testLogger)
                reviews.append(try await registry.engagements.review(engagement: engagement, review, caller: h.employer, logger: testLogger))
            }
            let proposed = try await place()
            let reviewDispute = try await registry.engagements.dispute(reviews[0], reason: "那天我请了假", caller: h.worker, logger: testLogger)

            // Two police records about her: one disputed, one not.
            let (sourceID, _, _, police) = try await registry.source("police-a11y", kind: "police")
            let results = try await registry.flags.submit(
                [
                    flag(Fixtures.idNumber(serial: 101), "A11Y-1", "fraud", severity: 1, status: "alleged"),
                    flag(Fixtures.idNumber(serial: 101), "A11Y-2", "fraud", severity: 1, status: "alleged"),
                ],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            let flags = results.compactMap { $0.flagId.flatMap(UUID.init(uuidString:)) }
            try #require(flags.count == 2)
            let flagDispute = try await registry.flags.dispute(flagID: flags[0], reason: "不是我", caller: h.worker, logger: testLogger)
            let keyID = try #require(try await registry.flags.sources(logger: testLogger).first { $0.id == sourceID.text }?.keys.first?.id)

            // Another agency asks for her file; the household files a case.
            let (_, other) = try await registry.approvedAgency(2)
            let transfer = try await registry.transfers.request(idNumber: Fixtures.idNumber(serial: 101), caller: other, logger: testLogger)
            let caseID = try await registry.cases.file(
                .init(workerId: h.workerID.uuid, grounds: "theft", statement: "首饰丢失"),
                caller: h.employer,
                logger: testLogger
            )
            _ = try await registry.makeUser(role: .admin, email: "a11y-admin@example.cn", password: "admin password!")
            // An earlier sealed tenure with its assessment disputed; an application to repair the disputed record.
            let tenure = try await registry.sealedTenure(worker: h.workerID, agency: h.agencyID)
            let tenureDispute = try await registry.tenureDisputes.raise(tenureID: tenure, reason: "评分不实", caller: h.worker, logger: testLogger)
            let repair = try await registry.repairs.apply(
                flagID: flags[0],
                .init(basis: "proof", statement: "已完成培训"),
                newProof: registry.pdfProof(),
                caller: h.worker,
                logger: testLogger
            )
            // Two ended placements with the household: one she reviewed, reporting unpaid wages; one to review.
            for reviewed in [true, false] {
                let e = try await registry.engagements.place(
                    .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                    caller: h.agency,
                    logger: testLogger
                )
                _ = try await registry.engagements.transition(e, "confirm", caller: h.employer, logger: testLogger)
                _ = try await registry.engagements.transition(e, "end", caller: h.employer, logger: testLogger)
                if reviewed {
                    _ = try await registry.householdReviews.write(
                        engagement: e,
                        .init(respect: 2, payOnTime: 1, safety: 3, agreedDuties: 3, account: "拖欠工资两个月", complaint: "unpaid_wages"),
                        caller: h.worker,
                        logger: testLogger
                    )
                }
            }
            // A demerit notice to the agency, open for its answer.
            _ = try await registry.demerits.record(
                agencyID: h.agencyID.uuid,
                .init(offence: "late_sealing", evidence: "转档同意后第九天才封存履历"),
                caller: try await registry.adminCaller,
                logger: testLogger
            )
            return Fixture(
                household: h,
                worker: h.workerID.text,
                proposed: proposed.text,
                reviewed: reviews[0].text,
                otherReview: reviews[1].text,
                openFlag: flags[1].text,
                transfer: transfer.transfer.id,
                caseID: caseID.text,
                agencyID: h.agencyID.text,
                reviewDispute: reviewDispute.text,
                flagDispute: flagDispute.text,
                sourceID: sourceID.text,
                keyID: keyID.text,
                tenure: tenure.text,
                tenureDispute: tenureDispute.text,
                repair: repair.text
            )
        }
    }

    /// One signed-in (or anonymous) visitor and the GET pages of its role.
    struct Visitor {
        var name: String
        var client: PageClient
        var pages: [String]
    }

    @Test("every GET page of every role, in Chinese and in English, and the answers to forms pass the structural checks")
    func everyPage() async throws {
        try await withTestApp { registry, _, client in
            let f = try await Fixture.make(registry)
            let w = "/agency/workers/\(f.worker)"
            var agency = PageClient(client: client)
            var other = PageClient(client: client)
            var employer = PageClient(client: client)
            var worker = PageClient(client: client)
            var admin = PageClient(client: client)
            _ = try await agency.signIn(email: "staff1@agency.cn", password: "agency password 1")
            _ = try await other.signIn(email: "staff2@agency.cn", password: "agency password 2")
            _ = try await employer.signIn(email: "home@example.cn", password: "employer password")
            _ = try await worker.signIn(email: "13800138001", password: "worker password")
            _ = try await admin.signIn(email: "a11y-admin@example.cn", password: "admin password!")
            var visitors = [
                Visitor(
                    name: "anonymous",
                    client: PageClient(client: client),
                    pages: [
                        "/", "/signin", "/apply", "/employer/register", "/activate", "/lookup", "/blacklist", "/agencies/\(f.agencyID)",
                        "/no/such/page",
                    ]
                ),
                Visitor(
                    name: "agency",
                    client: agency,
                    pages: [
                        "/agency", "/agency/workers", "/agency/workers?q=%E6%9D%8E", "/agency/workers/new", w, w + "/tenure", w + "/trainings/new",
                        w + "/health-certificates/new", w + "/skills/new", w + "/placements/new", "/agency/placements", "/agency/transfers",
                        "/agency/transfers/new", "/agency/transfers/\(f.transfer)", "/agency/import", w + "/case/new", "/agency/tenure-disputes",
                        "/agency/commitments", "/agency/demerits", "/agency/households/\(f.household.employerID.text)/reviews",
                    ]
                ),
                Visitor(name: "other agency", client: other, pages: ["/agency/transfers", "/agency/transfers/\(f.transfer)", "/agency/placements"]),
                Visitor(
                    name: "employer",
                    client: employer,
                    pages: [
                        "/employer", "/check", "/check?code=ABCD2345", "/employer/workers/\(f.worker)/report",
                        "/employer/engagements/\(f.proposed)/review", "/employer/workers/\(f.worker)/case/new", "/cases/\(f.caseID)",
                        "/employer/hire", "/employer/hire?sector=domestic_service&min_grade=B&red_list=true", "/employer/household-reviews",
                    ]
                ),
                Visitor(
                    name: "worker",
                    client: worker,
                    pages: ["/worker", "/cases/\(f.caseID)", "/account/contact", "/worker/tenures", "/worker/repairs", "/worker/households"]
                ),
                Visitor(
                    name: "admin",
                    client: admin,
                    pages: [
                        "/admin", "/admin/agencies?status=approved", "/admin/agencies/\(f.agencyID)", "/admin/cases", "/cases/\(f.caseID)",
                        "/admin/dashboard", "/admin/jobs", "/account/contact", "/admin/integrations",
                        "/admin/integrations/\(f.sourceID)/keys/\(f.keyID)/revoke", "/admin/audit",
                        "/admin/disputes", "/admin/disputes/\(f.reviewDispute)", "/admin/flag-disputes", "/admin/flag-disputes/\(f.flagDispute)",
                        "/admin/workers", "/admin/workers/\(f.worker)?purpose=audit", "/admin/ties", "/admin/disputes/\(f.tenureDispute)",
                        "/admin/repairs", "/admin/repairs/\(f.repair)", "/admin/demerits", "/admin/agencies/\(f.agencyID)/demerits",
                        "/admin/household-reviews",
                    ]
                ),
            ]
            var checked = 0
            for language in ["zh-CN", "en"] {
                for i in visitors.indices {
                    visitors[i].client.cookies["lang"] = language
                    for path in visitors[i].pages {
                        let response = try await visitors[i].client.get(path)
                        #expect(response.status == (path == "/no/such/page" ? .notFound : .ok), "\(visitors[i].name) \(path)")
                        let problems = Self.problems(String(buffer: response.body), language: language)
                        #expect(problems.isEmpty, "\(visitors[i].name) \(path) (\(language)):\n\(problems.joined(separator: "\n"))")
                        checked += 1
                    }
                }

                // Pages answering a form: errors next to their fields, the code shown once.
                var anonymous = PageClient(client: client)
                anonymous.cookies["lang"] = language
                _ = try await anonymous.get("/signin")
                var answers: [(String, TestResponse)] = []
                answers.append(
                    ("sign-in refused", try await anonymous.post("/signin", ["account": "nobody@example.cn", "password": "wrong password"]))
                )
                answers.append(("application refused", try await anonymous.post("/apply", ["name": "x", "uscc": "1", "region_code": "32"])))
                answers.append(("lookup refused", try await anonymous.post("/lookup", ["id_number": "12345"])))
                answers.append(("lookup answered", try await anonymous.post("/lookup", ["id_number": Fixtures.idNumber(serial: 999)])))
                var agencyClient = visitors[1].client
                var employerClient = visitors[3].client
                var workerClient = visitors[4].client
                var adminClient = visitors[5].client
                answers.append(("worker refused", try await agencyClient.post("/agency/workers", ["id_number": "1", "sex": "F"])))
                answers.append(("skill refused", try await agencyClient.post(w + "/skills", ["category": "nanny"])))
                answers.append(
                    (
                        "commitment refused",
                        try await agencyClient.post(
                            "/agency/commitments",
                            ["kind": "agency", "version": registry.policies.commitments.agency.version, "representative": ""]
                        )
                    )
                )
                answers.append(
                    (
                        "placement refused",
                        try await agencyClient.post(
                            w + "/placements",
                            [
                                "employer": "nobody@example.cn", "category": "nanny", "starts_on": CivilDate.today().iso,
                            ]
                        )
                    )
                )
                answers.append(
                    (
                        "placement date refused",
                        try await agencyClient.post(
                            w + "/placements",
                            [
                                "employer": "home@example.cn", "category": "nanny", "starts_on": "soon",
                            ]
                        )
                    )
                )
                answers.append(("review refused", try await employerClient.post("/employer/engagements/\(f.proposed)/review", ["comment": "x"])))
                answers.append(("check refused", try await employerClient.post("/check", ["code": "ZZZZ2345"])))
                answers.append(("code issued", try await workerClient.post("/worker/consents", [:])))
                answers.append(("flag dispute refused", try await workerClient.post("/worker/flags/\(f.openFlag)/dispute", ["reason": ""])))
                answers.append(("review dispute refused", try await workerClient.post("/worker/reviews/\(f.otherReview)/dispute", ["reason": ""])))
                answers.append(
                    (
                        "refusal refused",
                        try await workerClient.post(
                            "/worker/transfers/\(f.transfer)/refuse",
                            ["reason": String(repeating: "长", count: 1001)]
                        )
                    )
                )
                answers.append(("tenure dispute refused", try await workerClient.post("/worker/tenures/\(f.tenure)/dispute", ["reason": ""])))
                answers.append(("repair refused", try await workerClient.post("/worker/flags/\(f.openFlag)/repair", ["basis": "period"])))
                answers.append(
                    ("answer refused", try await agencyClient.post("/agency/tenure-disputes/\(f.tenureDispute)/answer", ["statement": ""]))
                )
                answers.append(
                    (
                        "repair decision refused",
                        try await adminClient.post("/admin/repairs/\(f.repair)/decision", ["decision": "approve", "reason": ""])
                    )
                )
                answers.append(
                    (
                        "tenure decision refused",
                        try await adminClient.post("/admin/disputes/\(f.tenureDispute)/decision", ["decision": "reject", "note": ""])
                    )
                )
                answers.append(
                    (
                        "flag decision refused",
                        try await adminClient.post(
                            "/admin/flag-disputes/\(f.flagDispute)/decision",
                            ["decision": "reject", "note": ""]
                        )
                    )
                )
                for (name, response) in answers {
                    let html = String(buffer: response.body)
                    #expect(response.status != .seeOther && response.status != .forbidden, "\(name): \(response.status)")
                    #expect(["code issued", "lookup answered"].contains(name) || html.contains("class=\"error"), "\(name): no error shown")
                    let problems = Self.problems(html, language: language)
                    #expect(problems.isEmpty, "\(name) (\(language)):\n\(problems.joined(separator: "\n"))")
                    checked += 1
                }
            }
            #expect(checked > 100)
        }
    }

    // MARK: - The checks themselves

    @Test("each check finds its violation (a page that breaks one rule is never passed)")
    func checksCatchViolations() {
        func page(_ main: String, lang: String = "en", h1: String = "<h1>Title</h1>") -> String {
            """
            <!doctype html><html lang="\(lang)"><head><title>t</title></head><body><header><nav aria-label="n"><a href="/">Home</a></nav></header>
            <main id="main" tabindex="-1">\(h1)\(main)</main></body></html>
            """
        }
        let good = page(
            """
            <form method="post" action="/x"><input type="hidden" name="csrf_token" value="t">
            <label for="a">A</label><input id="a" name="a" required>
            <label for="b">B <span class="optional">(optional)</span></label><p class="error" id="b-error">Wrong</p>
            <textarea id="b" name="b" aria-describedby="b-error" aria-invalid="true"></textarea>
            <select id="c" name="c" aria-label="C" required><option value="">-</option></select>
            <button type="submit">Send</button></form>
            <svg role="img" aria-labelledby="s-title"><title id="s-title">Chart</title></svg><img src="/x.png" alt="">
            """
        )
        #expect(Self.problems(good, language: "en") == [])
        let broken: [(String, String)] = [
            ("wrong language", page("", lang: "zh-CN")),
            ("no h1", page("", h1: "")),
            ("two h1", page("<h1>Again</h1>")),
            ("no label", page("<input id=\"x\" name=\"x\" required>")),
            ("no id", page("<label>X <input name=\"x\" required></label>")),
            ("label for another id", page("<label for=\"y\">X</label><input id=\"x\" name=\"x\" required>")),
            ("duplicate id", page("<label for=\"x\">X</label><input id=\"x\" name=\"x\" required><p id=\"x\">again</p>")),
            ("positive tabindex", page("<a href=\"/\" tabindex=\"2\">Go</a>")),
            ("img without alt", page("<img src=\"/x.png\">")),
            ("svg without title", page("<svg role=\"img\" aria-labelledby=\"q\"></svg>")),
            ("svg without role", page("<svg><title>t</title></svg>")),
            ("submit input", page("<form method=\"post\"><input type=\"submit\" value=\"Go\"></form>")),
            ("role button", page("<a href=\"/\" role=\"button\">Go</a>")),
            ("empty button", page("<button type=\"submit\"></button>")),
            ("empty link", page("<a href=\"/\"></a>")),
            ("unlinked error", page("<label for=\"x\">X</label><p class=\"error\" id=\"x-error\">Wrong</p><input id=\"x\" name=\"x\" required>")),
            ("invalid without description", page("<label for=\"x\">X</label><input id=\"x\" name=\"x\" required aria-invalid=\"true\">")),
            ("dangling describedby", page("<label for=\"x\">X</label><input id=\"x\" name=\"x\" required aria-describedby=\"x-hint\">")),
            ("neither required nor optional", page("<form method=\"post\"><label for=\"x\">X</label><input id=\"x\" name=\"x\"></form>")),
            (
                "no main",
                page("").replacingOccurrences(of: "<main id=\"main\" tabindex=\"-1\">", with: "<div>")
                    .replacingOccurrences(of: "</main>", with: "</div>")
            ),
            ("no nav", page("").replacingOccurrences(of: "<nav aria-label=\"n\"><a href=\"/\">Home</a></nav>", with: "")),
        ]
        for (name, html) in broken {
            #expect(!Self.problems(html, language: "en").isEmpty, "\(name) was not caught")
        }
    }

    /// What is wrong with a page, structurally: one line per problem (none: an empty list).
    static func problems(_ html: String, language: String) -> [String] {
        var problems: [String] = []
        let elements = Self.elements(html)
        func named(_ name: String) -> [Element] { elements.filter { $0.name == name } }

        // The language, one main heading, the landmarks.
        if named("html").first?.attributes["lang"] != language {
            problems.append("<html lang> is \(named("html").first?.attributes["lang"] ?? "missing"), not \(language)")
        }
        if named("h1").count != 1 { problems.append("\(named("h1").count) <h1> elements, not one") }
        for landmark in ["header", "nav", "main"] where named(landmark).isEmpty {
            problems.append("no <\(landmark)> landmark")
        }
        if named("main").count > 1 { problems.append("more than one <main>") }

        // Ids are unique, and every reference points at one.
        var ids: [String: Int] = [:]
        for element in elements { if let id = element.attributes["id"] { ids[id, default: 0] += 1 } }
        for (id, count) in ids where count > 1 { problems.append("id \"\(id)\" is used \(count) times") }
        var described: Set<String> = []
        for element in elements {
            for attribute in ["aria-describedby", "aria-labelledby"] {
                guard let value = element.attributes[attribute] else { continue }
                for id in value.split(separator: " ").map(String.init) {
                    if ids[id] == nil { problems.append("<\(element.name)> \(attribute) names #\(id), which does not exist") }
                    if attribute == "aria-describedby" { described.insert(id) }
                }
            }
            if let tabindex = element.attributes["tabindex"], let n = Int(tabindex), n > 0 {
                problems.append("<\(element.name)> has tabindex=\(n)")
            }
            if element.attributes["role"] == "button" { problems.append("<\(element.name) role=button>: use a <button>") }
        }

        // Form fields: an id, a label for it (or an accessible name), required or marked optional.
        let labels = Self.labels(html)
        let postForms = Self.postFormRanges(html)
        for element in elements where ["input", "select", "textarea"].contains(element.name) {
            let type = element.attributes["type"]?.lowercased() ?? "text"
            if element.name == "input", ["submit", "button", "reset", "image"].contains(type) {
                problems.append("<input type=\(type)>: use a <button>")
                continue
            }
            if element.name == "input", type == "hidden" { continue }
            let name = element.attributes["name"] ?? "?"
            guard let id = element.attributes["id"], !id.isEmpty else {
                problems.append("<\(element.name) name=\(name)> has no id for a label")
                continue
            }
            let label = labels[id]
            if label == nil, element.attributes["aria-label"]?.isEmpty != false, element.attributes["aria-labelledby"] == nil {
                problems.append("#\(id) has no <label for> and no accessible name")
            }
            if element.attributes["aria-invalid"] == "true", element.attributes["aria-describedby"] == nil {
                problems.append("#\(id) is marked invalid without aria-describedby to its error")
            }
            let inPostForm = postForms.contains { $0.contains(element.offset) }
            if inPostForm, type != "checkbox", element.attributes["required"] == nil, label?.contains("class=\"optional\"") != true {
                problems.append("#\(id) is neither required nor labelled optional")
            }
        }

        // Errors are tied to their field (or announced).
        for element in elements {
            guard let classes = element.attributes["class"]?.split(separator: " ").map(String.init), classes.contains("error"),
                let id = element.attributes["id"]
            else { continue }
            if !described.contains(id), element.attributes["role"] != "alert" {
                problems.append("error #\(id) is not referenced by aria-describedby and is not an alert")
            }
        }

        // Images and drawings have text alternatives; buttons and links have text.
        for element in named("img") where element.attributes["alt"] == nil {
            problems.append("<img src=\(element.attributes["src"] ?? "?")> has no alt")
        }
        for svg in Self.contents(html, of: "svg") {
            let attributes = svg.attributes
            if attributes["aria-hidden"] == "true" { continue }
            if attributes["role"] != "img" { problems.append("<svg> without role=img (or aria-hidden)") }
            if !svg.inner.contains("<title") { problems.append("<svg> without a <title>") }
            if attributes["aria-labelledby"] == nil, attributes["aria-label"] == nil { problems.append("<svg> without an accessible name") }
        }
        for button in Self.contents(html, of: "button") where Self.text(button.inner).isEmpty && button.attributes["aria-label"] == nil {
            problems.append("a <button> without text")
        }
        for link in Self.contents(html, of: "a") where Self.text(link.inner).isEmpty && link.attributes["aria-label"] == nil {
            problems.append("a link to \(link.attributes["href"] ?? "?") without text")
        }
        return problems
    }

    // MARK: - Reading HTML (the pages' own, well-formed output)

    struct Element {
        var name: String
        var attributes: [String: String]
        var offset: Int
    }

    /// Every start tag, with its attributes and position.
    static func elements(_ html: String) -> [Element] {
        let tag = #/<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>/]+(?:\s*=\s*"[^"]*")?)*)\s*/?>/#
        return html.matches(of: tag).map { match in
            Element(
                name: String(match.output.1).lowercased(),
                attributes: attributes(String(match.output.2)),
                offset: html.utf8.distance(from: html.startIndex, to: match.range.lowerBound)
            )
        }
    }

    static func attributes(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for match in text.matches(of: #/([^\s=>/]+)(?:\s*=\s*"([^"]*)")?/#) {
            result[String(match.output.1).lowercased()] = match.output.2.map(String.init) ?? ""
        }
        return result
    }

    /// Elements of one kind with their attributes and inner HTML (not nested in themselves).
    static func contents(_ html: String, of name: String) -> [(attributes: [String: String], inner: String)] {
        let pattern = try! Regex("<\(name)((?:\\s+[^\\s=>/]+(?:\\s*=\\s*\"[^\"]*\")?)*)\\s*>(.*?)</\(name)>").dotMatchesNewlines()
        return html.matches(of: pattern).map { match in
            (attributes(String(match.output[1].substring ?? "")), String(match.output[2].substring ?? ""))
        }
    }

    /// `<label for>` → the label's inner HTML.
    static func labels(_ html: String) -> [String: String] {
        var result: [String: String] = [:]
        for label in contents(html, of: "label") {
            if let target = label.attributes["for"] { result[target] = label.inner }
        }
        return result
    }

    /// Where each `method="post"` form is, as UTF-8 offsets.
    static func postFormRanges(_ html: String) -> [Range<Int>] {
        let pattern = try! Regex(#"<form\b([^>]*)>.*?</form>"#).dotMatchesNewlines()
        return html.matches(of: pattern).compactMap { match in
            guard attributes(String(match.output[1].substring ?? ""))["method"]?.lowercased() == "post" else { return nil }
            let start = html.utf8.distance(from: html.startIndex, to: match.range.lowerBound)
            return start..<html.utf8.distance(from: html.startIndex, to: match.range.upperBound)
        }
    }

    /// The text of some HTML: tags removed, whitespace trimmed.
    static func text(_ html: String) -> String {
        html.replacing(#/<[^>]*>/#, with: "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - The style sheet

    /// Every text colour the style sheet sets, on each background it is shown on.
    static let textOnBackground: [(String, String)] = [
        ("var(--ink)", "var(--paper)"), ("var(--ink)", "var(--wash)"), ("var(--ink)", "var(--ok-wash)"), ("var(--ink)", "var(--warn-wash)"),
        ("var(--ink)", "var(--bad-wash)"),
        ("var(--muted)", "var(--paper)"), ("var(--muted)", "var(--wash)"), ("var(--muted)", "var(--ok-wash)"),
        ("var(--muted)", "var(--warn-wash)"), ("var(--muted)", "var(--bad-wash)"),
        ("var(--brand)", "var(--paper)"), ("var(--brand)", "var(--wash)"), ("var(--brand)", "var(--ok-wash)"),
        ("var(--brand)", "var(--warn-wash)"), ("var(--brand)", "var(--bad-wash)"), ("var(--brand-dark)", "var(--paper)"),
        ("var(--ok)", "var(--paper)"), ("var(--ok)", "var(--ok-wash)"),
        ("var(--bad)", "var(--paper)"), ("var(--bad)", "var(--bad-wash)"),
        ("#5a4300", "var(--warn-wash)"),
        ("#fff", "var(--brand-dark)"), ("#fff", "var(--brand)"), ("#fff", "var(--bad)"), ("#fff", "var(--ok)"), ("#fff", "#8a6100"),
    ]

    @Test("site.css: every text colour has at least 4.5:1 contrast on the backgrounds it is used on; focus is always visible")
    func styleSheet() throws {
        let css = try String(contentsOfFile: repositoryRoot + "/Web/static/site.css", encoding: .utf8)
        var variables: [String: String] = [:]
        for match in css.matches(of: #/(--[a-z-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\s*;/#) {
            variables[String(match.output.1)] = String(match.output.2)
        }
        /// A colour as #rrggbb in lower case (from a variable or a literal); nil for none, inherit …
        func resolve(_ value: String) -> String? {
            var v = value.trimmingCharacters(in: .whitespaces)
            if let name = v.firstMatch(of: #/^var\((--[a-z-]+)\)$/#)?.output.1 {
                guard let defined = variables[String(name)] else { return nil }
                v = defined
            }
            guard v.hasPrefix("#") else { return nil }
            let digits = v.dropFirst().lowercased()
            return "#" + (digits.count == 3 ? digits.map { "\($0)\($0)" }.joined() : digits)
        }
        for (text, background) in Self.textOnBackground {
            let fg = try #require(resolve(text), "\(text)")
            let bg = try #require(resolve(background), "\(background)")
            let ratio = Self.contrast(fg, bg)
            #expect(ratio >= 4.5, "\(text) on \(background): \(String(format: "%.2f", ratio)):1")
        }
        // A new text colour or background must be added to the table above (and so checked).
        let foregrounds = Set(Self.textOnBackground.compactMap { resolve($0.0) })
        let backgrounds = Set(Self.textOnBackground.compactMap { resolve($0.1) })
        var colours = 0
        for match in css.matches(of: #/[;{\s]color\s*:\s*([^;}]+)/#) {
            guard let value = resolve(String(match.output.1)) else { continue }  // inherit, currentColor
            colours += 1
            #expect(foregrounds.contains(value), "text colour \(match.output.1) is not checked for contrast")
        }
        for match in css.matches(of: #/[;{\s]background(?:-color)?\s*:\s*([^;}]+)/#) {
            guard let value = resolve(String(match.output.1)) else { continue }  // none
            #expect(backgrounds.contains(value), "background \(match.output.1) is not checked for contrast")
        }
        #expect(colours > 10)
        // Focus: a visible outline for every focusable kind, never removed.
        for selector in [
            "a:focus-visible", "button:focus-visible", "input:focus-visible", "select:focus-visible", "textarea:focus-visible",
            "summary:focus-visible",
        ] {
            #expect(css.contains(selector), "no focus style for \(selector)")
        }
        #expect(css.contains("outline: 3px solid"))
        #expect(css.firstMatch(of: #/outline\s*:\s*(none|0)\b/#) == nil, "an outline is removed")
    }

    /// WCAG 2 contrast ratio of two #rgb / #rrggbb colours.
    static func contrast(_ a: String, _ b: String) -> Double {
        func luminance(_ hex: String) -> Double {
            var digits = String(hex.dropFirst())
            if digits.count == 3 { digits = digits.map { "\($0)\($0)" }.joined() }
            let value = Int(digits, radix: 16) ?? 0
            func linear(_ shift: Int) -> Double {
                let c = Double((value >> shift) & 0xFF) / 255
                return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
            }
            let r: Double = linear(16)
            let g: Double = linear(8)
            let b: Double = linear(0)
            return 0.2126 * r + 0.7152 * g + 0.0722 * b
        }
        let (la, lb) = (luminance(a), luminance(b))
        return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
    }
}
