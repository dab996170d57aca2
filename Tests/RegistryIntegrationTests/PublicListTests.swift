import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryHTTP
import RegistryServices
import RegistryStorage
import Testing

@Suite("The published blacklist and the yes/no lookup")
struct PublicListTests {
    func cmd(_ c: String, _ reason: String = "理由", outcome: String? = nil) -> CaseService.Command {
        .init(command: c, reason: reason, outcome: outcome, channel: nil, evidenceId: nil)
    }

    func get(_ client: some TestClientProtocol, _ path: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: .get, headers: [:], body: nil)
    }

    @Test(
        "after execution (only then) she is on the list with what policy publishes, masked; the page, JSON and CSV agree; an upheld appeal removes her at once, and both are in the audit log"
    )
    func publishedAndRemoved() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id, a) = try await registry.executedBan()
            let (router, _) = buildRouter(registry)
            try await Application(router: router, logger: testLogger).test(.router) { client in
                let response = try await get(client, "/api/v1/public/blacklist")
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "public, max-age=\(registry.policies.publication.blacklist.cacheSeconds)")
                let body = TestJSON.object(response.body)
                #expect(body["total"] as? Int == 1 && body["pages"] as? Int == 1)
                let entry = try #require((body["entries"] as? [[String: Any]])?.first)
                #expect(Set(entry.keys) == ["name", "id_number", "sectors", "grounds", "decided_on", "reference"])
                let idNumber = Fixtures.idNumber(serial: 101)
                #expect(entry["name"] as? String == "李*英")
                #expect(entry["id_number"] as? String == String(idNumber.prefix(6)) + "********" + String(idNumber.suffix(4)))
                #expect((entry["sectors"] as? [[String: Any]])?.map { $0["id"] as? String } == ["domestic_service"])
                #expect((entry["grounds"] as? [String: Any])?["zh"] as? String == "虐待、殴打儿童")
                #expect(entry["decided_on"] as? String == registry.clock.today.iso)
                let reference = try #require(entry["reference"] as? String)
                #expect(reference.range(of: #"^RC-20[0-9]{2}-[0-9]{6}$"#, options: .regularExpression) != nil)

                let csv = try await get(client, "/api/v1/public/blacklist.csv")
                #expect(csv.status == .ok && csv.headers[.contentType] == "text/csv; charset=utf-8")
                let lines = String(buffer: csv.body).split(separator: "\r\n")
                #expect(lines.count == 2 && lines[1].hasPrefix("李*英,") && lines[1].hasSuffix("," + reference))

                var visitor = PageClient(client: client)
                visitor.cookies["lang"] = "zh-CN"
                let page = try await visitor.get("/blacklist")
                let html = String(buffer: page.body)
                #expect(page.status == .ok && html.contains("李*英") && html.contains(reference))
                #expect(page.headers[.cacheControl]?.contains("max-age") != true)
                #expect(!html.contains("李秀英") && !html.contains(idNumber))
                // The home page links the lookup and the list for households without an account.
                let home = String(buffer: try await visitor.get("/").body)
                #expect(home.contains("href=\"/lookup\"") && home.contains("href=\"/blacklist\""))

                // The lookup page: yes for her, through the same throttle as the API.
                _ = try await visitor.get("/lookup")
                let yes = String(buffer: try await visitor.post("/lookup", ["id_number": idNumber]).body)
                let yesTitle = try #require(try registryText("zh-CN", "lookup.yes_title"))
                #expect(yes.contains(yesTitle))
                #expect(!yes.contains(idNumber))
            }
            #expect(try await registry.auditCount("blacklist.published", subject: h.workerID.uuid) == 1)

            // Her appeal is upheld: off the list in the same transaction.
            _ = try await registry.cases.act(id, cmd("appeal", "监控里的人不是我"), caller: h.worker, logger: testLogger)
            _ = try await registry.cases.act(id, cmd("uphold_appeal", "新证据成立"), caller: a[2], logger: testLogger)
            let after = try await registry.publicLists.blacklist(page: 1, logger: testLogger)
            #expect(after.total == 0 && after.entries.isEmpty)
            #expect(try await registry.auditCount("blacklist.removed", subject: h.workerID.uuid) == 1)
        }
    }

    @Test("policy decides what is published: a withheld field is absent from the JSON, the CSV and the page")
    func policyWithholds() async throws {
        var policies = try PolicySet.load(directory: repositoryRoot + "/Policies")
        policies.publication.blacklist.fields = ["grounds", "decided_on"]
        try await withTestRegistry(policies: policies) { registry, _ in
            _ = try await registry.executedBan()
            let (router, _) = buildRouter(registry)
            try await Application(router: router, logger: testLogger).test(.router) { client in
                let body = TestJSON.object(try await get(client, "/api/v1/public/blacklist").body)
                let entry = try #require((body["entries"] as? [[String: Any]])?.first)
                #expect(Set(entry.keys) == ["grounds", "decided_on"])
                let csv = String(buffer: try await get(client, "/api/v1/public/blacklist.csv").body)
                #expect(csv.hasPrefix("grounds_zh,grounds_en,decided_on\r\n"))
                let html = String(buffer: try await get(client, "/blacklist").body)
                #expect(!html.contains("李*英") && html.contains("虐待、殴打儿童"))
            }
        }
    }

    @Test("paging is bounded: a page or page size out of range is a 400 and changes nothing")
    func paging() async throws {
        try await withTestApp { registry, _, client in
            for path in [
                "/api/v1/public/blacklist?page=0", "/api/v1/public/blacklist?page=100001", "/api/v1/public/blacklist?per_page=0",
                "/api/v1/public/blacklist?per_page=\(registry.policies.publication.blacklist.pageSize + 1)",
                "/api/v1/public/blacklist.csv?page=-1", "/api/v1/public/blacklist?page=9999999999999999999999",
            ] {
                let response = try await client.execute(uri: path, method: .get, headers: [:], body: nil)
                #expect(response.status == .badRequest, "\(path)")
            }
            let empty = TestJSON.object(try await client.execute(uri: "/api/v1/public/blacklist?page=3", method: .get, headers: [:], body: nil).body)
            #expect(empty["total"] as? Int == 0 && (empty["entries"] as? [Any])?.isEmpty == true && empty["pages"] as? Int == 1)
        }
    }
}

/// A page text from Web/i18n (for tests that look for a sentence).
func registryText(_ language: String, _ key: String) throws -> String? {
    let text = try String(contentsOfFile: repositoryRoot + "/Web/i18n/\(language).yaml", encoding: .utf8)
    let parts = key.split(separator: ".").map(String.init)
    guard parts.count == 2 else { return nil }
    var inGroup = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if !line.hasPrefix(" ") {
            inGroup = line == "\(parts[0]):"
            continue
        }
        if inGroup, line.hasPrefix("  \(parts[1]): ") { return String(line.dropFirst(parts[1].count + 4)) }
    }
    return nil
}
