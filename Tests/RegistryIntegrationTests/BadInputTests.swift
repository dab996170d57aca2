import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// Bad input over HTTP: malformed ID numbers, broken and oversized bodies, wrong types and media
/// types, injection attempts in text fields. Each gets a clear 4xx in the one error shape, changes
/// nothing, leaks no internals, and no ID number ever reaches the log.
@Suite("Bad input")
struct BadInputTests {
    /// The HTTP app over a test registry with its log lines kept, and a signed-in agency, employer and worker.
    struct Setup: Sendable {
        var registry: Registry
        var household: Household
        var capture: LogCapture
        var agency: HTTPFields
        var employer: HTTPFields
        var worker: HTTPFields
    }

    func withSetup(_ body: @escaping @Sendable (Setup, any TestClientProtocol) async throws -> Void) async throws {
        let capture = LogCapture()
        try await withTestRegistry { registry, _ in
            let household = try await Household.make(registry)
            var logger = Logger(label: "bad-input") { _ in CapturingLogHandler(capture: capture) }
            logger.logLevel = .debug
            let app = Application(router: buildRouter(registry).0, logger: logger)
            try await app.test(.router) { client in
                func login(_ body: [String: String]) async throws -> HTTPFields {
                    let r = try await client.execute(
                        uri: "/api/v1/auth/login",
                        method: .post,
                        headers: [.contentType: "application/json"],
                        body: TestJSON.body(body)
                    )
                    let token = try #require(TestJSON.object(r.body)["token"] as? String)
                    return [.authorization: "Bearer \(token)", .contentType: "application/json"]
                }
                let setup = Setup(
                    registry: registry,
                    household: household,
                    capture: capture,
                    agency: try await login(["email": "staff1@agency.cn", "password": "agency password 1"]),
                    employer: try await login(["email": "home@example.cn", "password": "employer password"]),
                    worker: try await login(["phone": "13800138001", "password": "worker password"])
                )
                try await body(setup, client)
            }
        }
    }

    /// Row counts of the tables a bad request could touch.
    func counts(_ registry: Registry) async throws -> [String: Int] {
        var result: [String: Int] = [:]
        for table in [
            "workers", "tenures", "reviews", "cases", "evidence", "flags", "users", "agencies", "consents", "transfers", "engagements",
            "notifications", "audit_log", "sessions",
        ] {
            let rows = try await registry.database.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"), logger: testLogger)
            for try await n in rows.decode(Int.self) { result[table] = n }
        }
        return result
    }

    func registration(_ id: String, name: String = "李秀英") -> ByteBuffer {
        TestJSON.body([
            "id_number": id, "full_name": name, "sex": "F", "phone": NSNull(), "home_region": "320102",
            "service_categories": ["nanny"],
        ])
    }

    /// The one error shape, with no internals in it.
    func expectClean(_ response: TestResponse, _ status: HTTPResponse.Status, code: String? = nil, _ what: String) {
        let text = String(buffer: response.body)
        #expect(response.status == status, "\(what): \(response.status) \(text)")
        let error = TestJSON.object(response.body)["error"] as? [String: Any]
        #expect(error?["message"] is String, "\(what): no error message in \(text)")
        if let code { #expect(error?["code"] as? String == code, "\(what): \(text)") }
        for leak in ["PSQLError", "SELECT ", "INSERT ", "Swift.", "Fatal", "/work/", ".swift"] {
            #expect(!text.contains(leak), "\(what) leaks '\(leak)': \(text)")
        }
    }

    @Test("malformed ID numbers are refused with the reason, change nothing, and never reach the log")
    func malformedIDNumbers() async throws {
        try await withSetup { s, client in
            let before = try await counts(s.registry)
            let valid = Fixtures.idNumber(birth: "19900101", serial: 222)
            var wrongCheck = Array(valid)
            wrongCheck[17] = wrongCheck[17] == "0" ? "1" : "0"
            // A right check digit, an impossible date.
            let feb31 = "32010219850231123" + String(try #require(NationalID.checkCharacter(for: "32010219850231123")))
            let cases: [(String, String)] = [
                ("", "id_number_length"), ("1234", "id_number_length"), (valid + "1", "id_number_length"),
                (String(wrongCheck), "id_number_checksum"), (String(valid.prefix(17)) + "A", "id_number_format"),
                ("３２０１０２" + String(valid.dropFirst(6)), "id_number_format"), (feb31, "id_number_birth_date"),
                ("' OR '1'='1' --     ", "id_number_length"), ("1' OR '1'='1' -- X", "id_number_format"),
                ("32010219900101\u{0}22X", "id_number_format"),
            ]
            var sent: [String] = []
            for (bad, code) in cases {
                let r = try await client.execute(uri: "/api/v1/workers", method: .post, headers: s.agency, body: registration(bad))
                expectClean(r, .badRequest, code: code, "id number \(bad.debugDescription)")
                #expect((TestJSON.object(r.body)["error"] as? [String: Any])?["field"] as? String == "id_number")
                sent.append(bad)
            }
            // The same through the public ban lookup and a transfer request.
            for path in ["/api/v1/public/ban-status", "/api/v1/transfers"] {
                let r = try await client.execute(uri: path, method: .post, headers: s.agency, body: TestJSON.body(["id_number": String(wrongCheck)]))
                expectClean(r, .badRequest, "\(path) with a wrong check digit")
            }
            #expect(try await counts(s.registry) == before)
            // A valid number registers, and is not logged either (nor is it found in the log in any form sent).
            let ok = try await client.execute(uri: "/api/v1/workers", method: .post, headers: s.agency, body: registration(valid))
            #expect(ok.status == .created)
            let log = s.capture.text
            #expect(log.contains("/api/v1/workers"), "the requests were logged at all")
            for bad in sent + [valid, String(wrongCheck)] where bad.count >= 8 {
                #expect(!log.contains(bad), "the log holds a submitted ID number")
            }
        }
    }

    @Test("broken JSON, wrong types, missing fields, wrong media types and oversized bodies: 4xx, nothing changed")
    func brokenBodies() async throws {
        try await withSetup { s, client in
            let before = try await counts(s.registry)
            let id = Fixtures.idNumber(birth: "19900101", serial: 224)
            let bodies: [(String, ByteBuffer, String?)] = [
                ("truncated JSON", ByteBuffer(string: "{\"id_number\": \"\(id)\", \"full_na"), "malformed_json"),
                ("not JSON", ByteBuffer(string: "id_number=\(id)"), "malformed_json"),
                ("an array", ByteBuffer(string: "[]"), "wrong_type"),
                (
                    "a number for a name",
                    ByteBuffer(
                        string:
                            "{\"id_number\":\"\(id)\",\"full_name\":7,\"sex\":\"F\",\"home_region\":\"320102\",\"service_categories\":[\"nanny\"]}"
                    ), "wrong_type"
                ),
                (
                    "null for a name",
                    ByteBuffer(
                        string:
                            "{\"id_number\":\"\(id)\",\"full_name\":null,\"sex\":\"F\",\"home_region\":\"320102\",\"service_categories\":[\"nanny\"]}"
                    ), "missing_field"
                ),
                (
                    "no name",
                    ByteBuffer(string: "{\"id_number\":\"\(id)\",\"sex\":\"F\",\"home_region\":\"320102\",\"service_categories\":[\"nanny\"]}"),
                    "missing_field"
                ),
                (
                    "invalid UTF-8", ByteBuffer(bytes: Array("{\"id_number\":\"\(id)\",\"full_name\":\"".utf8) + [0xFF, 0xFE] + Array("\"}".utf8)),
                    nil
                ),
            ]
            for (what, body, code) in bodies {
                let r = try await client.execute(uri: "/api/v1/workers", method: .post, headers: s.agency, body: body)
                expectClean(r, .badRequest, code: code, what)
            }
            // 2 MB of JSON: refused before it is read in full.
            let huge = ByteBuffer(string: "{\"id_number\":\"\(id)\",\"full_name\":\"" + String(repeating: "长", count: 700_000) + "\"}")
            let tooLarge = try await client.execute(uri: "/api/v1/workers", method: .post, headers: s.agency, body: huge)
            expectClean(tooLarge, .contentTooLarge, code: "body_too_large", "a 2 MB body")
            // A name longer than the field allows, within the body limit.
            let long = try await client.execute(
                uri: "/api/v1/workers",
                method: .post,
                headers: s.agency,
                body: registration(id, name: String(repeating: "李", count: 5_000))
            )
            expectClean(long, .badRequest, "a 5,000-character name")
            // Evidence above the policy's limit, and of a type that is not allowed.
            let caseID = try await s.registry.cases.file(
                .init(workerId: s.household.workerID.uuid, grounds: "theft", statement: "丢失现金和首饰，有报警回执。"),
                caller: s.household.agency,
                logger: testLogger
            )
            let limit = s.registry.policies.revocation.evidenceMaxBytes
            var agencyPDF = s.agency
            agencyPDF[.contentType] = "application/pdf"
            let bigFile = try await client.execute(
                uri: "/api/v1/cases/\(caseID.text)/evidence?filename=a.pdf",
                method: .post,
                headers: agencyPDF,
                body: ByteBuffer(repeating: 0x25, count: limit + 1)
            )
            expectClean(bigFile, .contentTooLarge, code: "evidence_too_large", "evidence over the limit")
            var agencyExe = s.agency
            agencyExe[.contentType] = "application/x-msdownload"
            let exe = try await client.execute(
                uri: "/api/v1/cases/\(caseID.text)/evidence?filename=a.exe",
                method: .post,
                headers: agencyExe,
                body: ByteBuffer(bytes: [0x4D, 0x5A, 0x90, 0x00])
            )
            #expect(exe.status.code >= 400 && exe.status.code < 500, "an executable as evidence: \(exe.status)")
            // Ids that are not ids, and unknown routes.
            for path in ["/api/v1/workers/not-a-uuid", "/api/v1/workers/%27%20OR%201=1", "/api/v1/cases/00000000-0000-0000-0000-000000000000"] {
                let r = try await client.execute(uri: path, method: .get, headers: s.agency)
                expectClean(r, .notFound, path)
            }
            // NUL and other control characters: in a JSON string, in a query string, in a boolean.
            let nul = try await client.execute(
                uri: "/api/v1/workers",
                method: .post,
                headers: s.agency,
                body: registration(Fixtures.idNumber(birth: "19900101", serial: 226), name: "李\u{0}秀英")
            )
            expectClean(nul, .badRequest, code: "invalid_characters", "a NUL in a name")
            let nulQuery = try await client.execute(uri: "/api/v1/workers?q=%00", method: .get, headers: s.agency)
            expectClean(nulQuery, .badRequest, code: "invalid_characters", "a NUL in a query")
            let badFlag = try await client.execute(uri: "/api/v1/transfers?open=maybe", method: .get, headers: s.agency)
            expectClean(badFlag, .badRequest, code: "wrong_type", "a boolean that is neither")
            var after = try await counts(s.registry)
            after["cases"]! -= 1  // the one filed above on purpose,
            after["audit_log"]! -= 1  // and its audit row
            after["notifications"]! -= 1  // and the text telling the worker
            #expect(after == before)
        }
    }

    static let hostile = [
        "'; DROP TABLE workers; --", "\" OR 1=1 --", "<script>alert(document.cookie)</script>", "{{t.admin.home_title}}",
        "${jndi:ldap://x/a}", "../../etc/passwd", "张\u{202E}三", "%00%27", "😀 表情 and 中文",
    ]

    @Test("injection attempts in text fields are stored as text or refused, never executed, and come back exactly")
    func injectionInTextFields() async throws {
        try await withSetup { s, client in
            let before = try await counts(s.registry)
            // Names: stored verbatim (or refused as a name), read back byte for byte.
            var stored = 0
            for (i, text) in Self.hostile.enumerated() {
                let r = try await client.execute(
                    uri: "/api/v1/workers",
                    method: .post,
                    headers: s.agency,
                    body: registration(Fixtures.idNumber(birth: "19880101", serial: 300 + 2 * i), name: text)
                )
                #expect(r.status.code < 500, "name \(text.debugDescription): \(r.status)")
                if r.status == .created, let id = TestJSON.object(r.body)["id"] as? String {
                    stored += 1
                    let file = try await client.execute(uri: "/api/v1/workers/\(id)", method: .get, headers: s.agency)
                    let worker = TestJSON.object(file.body)["worker"] as? [String: Any] ?? TestJSON.object(file.body)
                    #expect(
                        worker["full_name"] as? String == text,
                        "name \(text.debugDescription) came back as \(String(buffer: file.body).prefix(200))"
                    )
                } else {
                    expectClean(r, .badRequest, "name \(text.debugDescription)")
                }
            }
            #expect(stored >= Self.hostile.count / 2, "most hostile names are ordinary text and must be stored (\(stored))")
            // Free text elsewhere: a case statement, a dispute reason, a review comment.
            let e = try await s.registry.engagements.place(
                .init(
                    workerId: s.household.workerID.uuid,
                    employerEmail: "home@example.cn",
                    employerPhone: nil,
                    category: "nanny",
                    startsOn: "2026-01-01"
                ),
                caller: s.household.agency,
                logger: testLogger
            )
            _ = try await s.registry.engagements.transition(e, "confirm", caller: s.household.employer, logger: testLogger)
            // (Bidirectional overrides are refused in free text: see HardeningTests.)
            let text = Self.hostile.filter { !$0.unicodeScalars.contains(where: \.isBidiControl) }.joined(separator: " ")
            let review = try await client.execute(
                uri: "/api/v1/engagements/\(e.text)/review",
                method: .post,
                headers: s.employer,
                body: TestJSON.body([
                    "skill_scores": ["punctuality": 4, "quality": 4], "ethics_scores": ["honesty": 4, "respect": 4, "reliability": 4, "care": 4],
                    "comment": text,
                ])
            )
            #expect(review.status == .created, "\(String(buffer: review.body))")
            let mine = try await client.execute(uri: "/api/v1/me/reviews", method: .get, headers: s.worker)
            #expect(String(buffer: mine.body).contains("DROP TABLE workers"))
            let reviews = TestJSON.object(mine.body)["reviews"] as? [[String: Any]] ?? []
            #expect(reviews.contains { $0["comment"] as? String == text }, "the comment came back changed")
            let filed = try await client.execute(
                uri: "/api/v1/cases",
                method: .post,
                headers: s.employer,
                body: TestJSON.body([
                    "worker_id": s.household.workerID.text, "grounds": "theft", "statement": text,
                ])
            )
            #expect(filed.status == .created, "\(String(buffer: filed.body))")
            let caseID = try #require(TestJSON.object(filed.body)["id"] as? String)
            let read = try await client.execute(uri: "/api/v1/cases/\(caseID)", method: .get, headers: s.employer)
            #expect(TestJSON.object(read.body)["statement"] as? String == text, "the statement came back changed")
            // Query strings: the roster search and the for-hire listings.
            for q in Self.hostile {
                let encoded = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                for path in ["/api/v1/workers?q=\(encoded)", "/api/v1/listings?region=\(encoded)&category=\(encoded)"] {
                    let r = try await client.execute(uri: path, method: .get, headers: path.contains("listings") ? s.employer : s.agency)
                    #expect(r.status.code < 500, "\(path): \(r.status)")
                }
            }
            // Everything is still there, with exactly the rows written on purpose.
            let after = try await counts(s.registry)
            #expect(after["workers"] == before["workers"]! + stored)
            #expect(after["reviews"] == before["reviews"]! + 1 && after["cases"] == before["cases"]! + 1)
            #expect(after["agencies"] == before["agencies"] && after["users"] == before["users"] && after["flags"] == before["flags"])
        }
    }
}
