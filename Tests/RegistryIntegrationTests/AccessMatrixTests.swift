import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// The access-control matrix: `Tests/access-matrix.md` says, for every JSON route and every kind
/// of caller (anonymous, each role, the wrong agency, another worker or employer, the other
/// integration source), which status the registry answers. This suite builds one world with all
/// of them, sends every cell's request over HTTP and compares. Writes carry an empty JSON object,
/// so a caller who is let in gets a validation error (or a conflict) and nothing changes beyond
/// the few cells the table marks as the one successful call.
///
/// After a deliberate change of the rules, `ACCESS_MATRIX_RECORD=1 swift test --filter AccessMatrix`
/// rewrites the table from what the server answers; review the diff like any other code.
@Suite("Access-control matrix")
struct AccessMatrixTests {
    static let file = repositoryRoot + "/Tests/access-matrix.md"
    static let columns = [
        "anonymous", "admin", "agency", "other_agency", "employer", "other_employer", "worker", "other_worker",
        "integration", "other_integration",
    ]

    struct Row {
        var route: String
        var request: String
        var expected: [String]
        var method: String { String(route.split(separator: " ")[0]) }
        var pattern: String { String(route.split(separator: " ")[1]) }
    }

    /// The table's rows (a Markdown table whose first column is the route as registered, the
    /// second the request with named fixtures in braces, then one status per caller).
    static func parse(_ text: String) throws -> (header: [String], rows: [Row]) {
        var header: [String] = []
        var rows: [Row] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "") }
            if cells.first == "Route" {
                header = Array(cells.dropFirst(2))
            } else if let first = cells.first, !first.hasPrefix("-") {
                rows.append(Row(route: first, request: cells[1], expected: Array(cells.dropFirst(2))))
            }
        }
        return (header, rows)
    }

    /// A route pattern with every `{name}` made anonymous, for comparing with the router's list.
    static func shape(_ path: String) -> String {
        path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "{}", options: .regularExpression)
    }

    static func isJSONRoute(_ path: String) -> Bool {
        path.hasPrefix("/api/") || path.hasPrefix("/health/") || path == "/metrics" || path == "/openapi.yaml"
    }

    @Test("the table has a row for every JSON route, and only for routes that exist")
    func everyRouteIsInTheTable() async throws {
        let (header, rows) = try Self.parse(String(contentsOfFile: Self.file, encoding: .utf8))
        #expect(header == Self.columns)
        let registered = try await withTestRegistry { registry, _ in buildRouter(registry).1 }
        let routes = Set(registered.filter { Self.isJSONRoute($0.path) }.map { "\($0.method) \(Self.shape($0.path))" })
        let table = Set(rows.map { "\($0.method) \(Self.shape($0.pattern))" })
        #expect(routes.subtracting(table).sorted() == [], "routes missing from Tests/access-matrix.md")
        #expect(table.subtracting(routes).sorted() == [], "rows for routes that do not exist")
        for row in rows {
            #expect(row.expected.count == Self.columns.count, "\(row.route): one status per caller")
            // The request follows the route: same segments, literal ones equal; a named body exists.
            let parts = row.request.components(separatedBy: " with ")
            if parts.count > 1 { #expect(MatrixWorld.bodies[parts[1]] != nil, "\(row.route): no body named \(parts[1])") }
            let want = row.pattern.split(separator: "/")
            let got = parts[0].split(separator: "?")[0].split(separator: "/")
            #expect(
                want.count == got.count && zip(want, got).allSatisfy { $0.hasPrefix("{") || $0 == $1 },
                "\(row.route): the request \(row.request) does not follow the route"
            )
        }
    }

    @Test("every cell: each caller gets exactly the status the table gives; refusals name the caller in the log")
    func matrix() async throws {
        let (_, rows) = try Self.parse(String(contentsOfFile: Self.file, encoding: .utf8))
        let capture = LogCapture()
        try await withTestRegistry { registry, _ in
            let world = try await MatrixWorld.make(registry)
            let (router, _) = buildRouter(registry)
            var logger = Logger(label: "matrix") { _ in CapturingLogHandler(capture: capture) }
            logger.logLevel = .info
            let app = Application(router: router, logger: logger)
            try await app.test(.router) { client in
                var callers = try await world.callers(client)
                var state = try await registry.fingerprint()
                var observed: [(Row, [String])] = []
                var mismatches: [String] = []
                for row in rows {
                    let parts = row.request.components(separatedBy: " with ")
                    let path = try world.resolve(parts[0])
                    let named = parts.count > 1 ? try #require(MatrixWorld.bodies[parts[1]], "no body named \(parts[1])") : nil
                    var statuses: [String] = []
                    for (i, column) in Self.columns.enumerated() {
                        if row.route == "POST /api/v1/auth/logout" {
                            // Signing out ends the session: every caller gets a fresh one for this row.
                            callers = try await world.callers(client)
                            state = try await registry.fingerprint()
                        }
                        var headers = callers[column] ?? [:]
                        var body: ByteBuffer?
                        if let named {
                            headers[.contentType] = named.contentType
                            body = ByteBuffer(string: named.text)
                        } else if row.method == "POST" || row.method == "PUT" {
                            headers[.contentType] = "application/json"
                            body = ByteBuffer(string: "{}")
                        }
                        let response = try await client.execute(uri: path, method: HTTPRequest.Method(row.method)!, headers: headers, body: body)
                        let status = String(response.status.code)
                        // A refused request changed nothing (a session's or key's last use aside); the state after
                        // one request is the state before the next.
                        let after = try await registry.fingerprint()
                        if response.status.code >= 400 {
                            let changed = changedTables(state, after)
                            #expect(changed.isEmpty, "\(row.route) as \(column) answered \(status) but changed \(changed)")
                        }
                        state = after
                        statuses.append(status)
                        if i < row.expected.count, row.expected[i] != status {
                            mismatches.append(
                                "\(row.route) as \(column): expected \(row.expected[i]), got \(status) \(String(buffer: response.body).prefix(160))"
                            )
                        }
                        #expect(response.status.code < 500, "\(row.route) as \(column): \(status)")
                        if status == "403" || status == "404", column != "anonymous", row.route != "POST /api/v1/auth/logout" {
                            // Every refusal (a role without the grant, or someone else's record refused as if it did
                            // not exist) is logged with the caller, so attempts can be traced.
                            let actor = try #require(world.actorIDs[column], "no actor id for \(column)")
                            let plain = String(path.split(separator: "?")[0])
                            #expect(
                                capture.refusals(path: plain).contains { $0.contains(actor) },
                                "\(row.route) as \(column): the refusal is not logged with the caller: \(capture.refusals(path: plain)) \(capture.text.suffix(600))"
                            )
                        }
                    }
                    observed.append((row, statuses))
                }
                if ProcessInfo.processInfo.environment["ACCESS_MATRIX_RECORD"] == "1" {
                    try Self.write(observed)
                } else {
                    #expect(
                        mismatches.isEmpty,
                        "\(mismatches.count) cells differ from Tests/access-matrix.md:\n\(mismatches.joined(separator: "\n"))"
                    )
                }
            }
        }
    }

    /// Rewrites the table's rows in place (the text around the table stays as it is).
    static func write(_ observed: [(Row, [String])]) throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        for (n, line) in lines.enumerated() where line.hasPrefix("| `") || (line.hasPrefix("| ") && line.contains(" /")) {
            guard index < observed.count else { break }
            let (row, statuses) = observed[index]
            lines[n] = "| `\(row.route)` | `\(row.request)` | " + statuses.joined(separator: " | ") + " |"
            index += 1
        }
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
    }
}

/// Everyone the table speaks of, and the records they reach for.
struct MatrixWorld {
    var registry: Registry
    var values: [String: String]
    var logins: [String: [String: String]]
    var keys: [String: String]
    /// The id that appears in a refusal's `actor` log field, per caller.
    var actorIDs: [String: String]

    /// Valid bodies for the rows that name one (`… with NAME`), so that the owner's request gets
    /// past validation and the cell shows what ownership decides.
    static let bodies: [String: (contentType: String, text: String)] = [
        "staff": ("application/json", #"{"email": "new-staff@agency.cn", "display_name": "新员工", "password": "a long password 2026"}"#),
        "training": (
            "application/json",
            #"{"kind": "training", "title": "育婴员培训", "issuer": "南京市职业培训中心", "category": "nanny", "issued_on": "2025-05-01", "hours": 40}"#
        ),
        "health": ("application/json", #"{"issuer": "南京市第一医院", "issued_on": "2026-01-10", "valid_until": "2027-01-10", "result": "fit"}"#),
        "skill": ("application/json", #"{"category": "nanny", "level": 3, "assessed_on": "2026-02-01", "assessor": "王老师"}"#),
        "assessment": (
            "application/json",
            #"{"work_ability": "能独立完成育儿工作", "health_status": "良好", "feedback_summary": "认真负责", "ethics_rating": 5, "ethics_note": "无"}"#
        ),
        "command": ("application/json", #"{"command": "provide_information", "reason": "补充说明"}"#),
        "scores": (
            "application/json",
            #"{"skill_scores": {"punctuality": 5, "quality": 4}, "ethics_scores": {"honesty": 5, "respect": 5, "reliability": 4, "care": 5}, "comment": "改一下评价"}"#
        ),
        "reply": ("application/json", #"{"body": "谢谢您的评价"}"#),
        "demerit": ("application/json", #"{"offence": "late_sealing", "evidence": "转档后第九天才封存履历"}"#),
        "demerit_answer": ("application/json", #"{"answer": "系统故障，已补封存"}"#),
        "withdraw": ("application/json", #"{"uphold": false, "reason": "答复属实"}"#),
        "household_review": ("application/json", #"{"respect": 4, "pay_on_time": 5, "safety": 5, "agreed_duties": 4, "account": "一家人很和善"}"#),
        "household_reply": ("application/json", #"{"reply": "工资已于上月结清"}"#),
        "household_decision": ("application/json", #"{"decision": "substantiate", "note": "工资流水证实拖欠两个月"}"#),
        "accept": ("application/json", #"{"accept": true}"#),
        "case_proposal": ("application/json", #"{"proposal": "dismiss", "reason": "首次违规"}"#),
        "case_objection": ("application/json", #"{"objection": "已整改"}"#),
        "case_decision": ("application/json", #"{"confirm": true, "reason": "同意"}"#),
        "reason": ("application/json", #"{"reason": "与事实不符"}"#),
        "statement": ("application/json", #"{"statement": "请求恢复从业资格"}"#),
        "repair_period": ("application/json", #"{"basis": "period"}"#),
        "pdf": ("application/pdf", "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"),
    ]

    func resolve(_ template: String) throws -> String {
        var path = template
        for (name, value) in values { path = path.replacingOccurrences(of: "{\(name)}", with: value) }
        guard !path.contains("{") else { throw MatrixError.unknownFixture(template) }
        return path
    }

    enum MatrixError: Error {
        case unknownFixture(String)
        case login(String)
    }

    /// Fresh sessions for the people, the API keys for the integrations.
    func callers(_ client: any TestClientProtocol) async throws -> [String: HTTPFields] {
        var callers: [String: HTTPFields] = ["anonymous": [:]]
        for (column, body) in logins {
            let response = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(body)
            )
            guard let token = TestJSON.object(response.body)["token"] as? String else {
                throw MatrixError.login("\(column): \(response.status) \(String(buffer: response.body))")
            }
            callers[column] = [.authorization: "Bearer \(token)", .contentType: "application/json"]
        }
        for (column, key) in keys { callers[column] = [.authorization: "Bearer \(key)", .contentType: "application/json"] }
        return callers
    }

    static func make(_ registry: Registry) async throws -> MatrixWorld {
        let log = testLogger
        // Agency A holds worker W (who has an account) and placed her with employer E; agency B
        // holds worker W2 and knows employer E2, who never dealt with W.
        let h = try await Household.make(registry, n: 1, employerEmail: "home@example.cn")
        let other = try await Household.make(registry, n: 2, employerEmail: "other@example.cn")
        let (_, third) = try await registry.approvedAgency(3)
        let (pendingAgency, _) = try await registry.approvedAgency(4, approve: false)
        let adminEmail = "matrix-admin@example.cn"
        let adminID = try await registry.makeUser(role: .admin, email: adminEmail, password: "admin password")
        let admin = Caller(Principal(.user(id: UserID(adminID), role: .admin, agencyID: nil, workerID: nil)))
        let dummy = try await registry.makeUser(role: .employer, email: "dummy@example.cn", password: "dummy password")

        // A transfer of another of A's workers, asked for by a third agency (A takes part, B does not).
        let movingID = Fixtures.idNumber(serial: 150)
        _ = try await registry.workers.register(Fixtures.registration(movingID, phone: nil), caller: h.agency, logger: log)
        let transfer = try await registry.transfers.request(idNumber: movingID, caller: third, logger: log).transfer.id

        let engagement = try await registry.engagements.place(
            .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
            caller: h.agency,
            logger: log
        )
        _ = try await registry.engagements.transition(engagement, "confirm", caller: h.employer, logger: log)
        let review = try await registry.engagements.review(
            engagement: engagement,
            .init(
                skillScores: ["punctuality": 4, "quality": 4],
                ethicsScores: ["honesty": 4, "respect": 4, "reliability": 4, "care": 4],
                comment: "认真负责"
            ),
            caller: h.employer,
            logger: log
        )
        let dispute = try await registry.engagements.dispute(review, reason: "评价与事实不符", caller: h.worker, logger: log)
        let consent = try await registry.consents.issue(caller: h.worker, logger: log).id

        let caseID = try await registry.cases.file(
            .init(workerId: h.workerID.uuid, grounds: "abuse_of_a_child", statement: "她多次打骂孩子，有监控录像。"),
            caller: h.employer,
            logger: log
        )
        let evidence = try await registry.cases.addEvidence(
            caseID,
            filename: "记录.pdf",
            contentType: "application/pdf",
            bytes: pdfBytes,
            description: nil,
            caller: h.employer,
            logger: log
        ).id

        let (policeID, policeKey, _, _) = try await registry.source("police-m", kind: "police")
        let (bureauID, bureauKey, _, _) = try await registry.source("bureau-m", kind: "credit_bureau")
        let police = Caller(Principal(.integration(sourceID: SourceID(policeID), sourceName: "police-m", keyID: KeyID.random())))
        let flagged = try await registry.flags.submit(
            [
                flag(Fixtures.idNumber(serial: 101), "M-1", "fraud", severity: 1, status: "alleged"),
                flag(Fixtures.idNumber(serial: 101), "M-2", "fraud", severity: 1, status: "alleged"),
            ],
            sourceID: policeID,
            caller: police,
            logger: log
        )
        let flagID = try #require(flagged.first?.flagId)
        let flagDispute = try await registry.flags.dispute(
            flagID: try #require(UUID(uuidString: flagID)),
            reason: "我从未涉及此事",
            caller: h.worker,
            logger: log
        )
        let spareKey = try await registry.flags.issueKey(sourceID: policeID, label: "spare", caller: admin, logger: log).id

        // An earlier tenure of W with A, sealed with its assessment (as a finished transfer leaves
        // it), and W's dispute of it; W's application to repair M-2 on proof, with its file.
        let tenure = try await registry.sealedTenure(worker: h.workerID, agency: h.agencyID)
        let tenureDispute = try await registry.tenureDisputes.raise(tenureID: tenure, reason: "评分不实", caller: h.worker, logger: log)
        let secondFlag = try #require(flagged.last?.flagId.flatMap(UUID.init(uuidString:)))
        let repair = try await registry.repairs.apply(
            flagID: secondFlag,
            .init(basis: "proof", statement: "已完成培训"),
            newProof: registry.pdfProof(),
            caller: h.worker,
            logger: log
        )
        let proof = try #require(try await registry.repairs.own(caller: h.worker, logger: log).first?.proofId)
        // Two engagements of W with E that ended: one whose household she has not reviewed, one she
        // has, reporting unpaid wages.
        func endedEngagement() async throws -> UUID {
            let e = try await registry.engagements.place(
                .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                caller: h.agency,
                logger: log
            )
            _ = try await registry.engagements.transition(e, "confirm", caller: h.employer, logger: log)
            _ = try await registry.engagements.transition(e, "end", caller: h.employer, logger: log)
            return e
        }
        let ended = try await endedEngagement()
        let householdReview = try await registry.householdReviews.write(
            engagement: try await endedEngagement(),
            .init(respect: 2, payOnTime: 1, safety: 3, agreedDuties: 3, account: "拖欠工资两个月", complaint: "unpaid_wages"),
            caller: h.worker,
            logger: log
        ).id
        // The third agency's points reach the case threshold: a case against it is open.
        for offence in ["flag_not_reported", "invented_review"] {
            let d = try await registry.demerits.record(
                agencyID: try #require(third.agencyUUID),
                .init(offence: offence, evidence: "核查记录"),
                caller: admin,
                logger: log
            )
            _ = try await registry.demerits.answer(d.id, text: "整改", caller: third, logger: log)
            _ = try await registry.demerits.decide(d.id, uphold: true, reason: "属实", caller: admin, logger: log)
        }
        let agencyCase = try #require(try await registry.demerits.cases(caller: admin, logger: log).first?.id)
        // A demerit notice to A, recorded by an administrator.
        let demerit = try await registry.demerits.record(
            agencyID: h.agencyID.uuid,
            .init(offence: "late_sealing", evidence: "封存逾期"),
            caller: admin,
            logger: log
        ).id

        let values: [String: String] = [
            "agency": h.agencyID.text, "pending_agency": pendingAgency.text, "worker": h.workerID.text, "other_worker": other.workerID.text,
            "transfer": transfer, "engagement": engagement.text, "review": review.text, "dispute": dispute.text, "consent": consent,
            "case": caseID.text, "evidence": evidence, "source": policeID.text, "key": spareKey, "flag_source": "police-m",
            "flag": flagID, "flag_dispute": flagDispute.text, "user": dummy.text, "unknown": UUID().text,
            "tenure": tenure.text, "tenure_dispute": tenureDispute.text, "repair": repair.text, "proof": proof,
            "demerit": demerit.text, "ended_engagement": ended.text, "household_review": householdReview.text,
            "employer_user": h.employerID.text, "agency_case": agencyCase.text,
        ]
        let logins: [String: [String: String]] = [
            "admin": ["email": adminEmail, "password": "admin password"],
            "agency": ["email": "staff1@agency.cn", "password": "agency password 1"],
            "other_agency": ["email": "staff2@agency.cn", "password": "agency password 2"],
            "employer": ["email": "home@example.cn", "password": "employer password"],
            "other_employer": ["email": "other@example.cn", "password": "employer password"],
            "worker": ["phone": "13800138001", "password": "worker password"],
            "other_worker": ["phone": "13800138002", "password": "worker password"],
        ]
        func actor(_ caller: Caller) throws -> String { try #require(caller.principal.userID).text }
        let actorIDs: [String: String] = [
            "admin": adminID.text, "agency": try actor(h.agency), "employer": try actor(h.employer), "worker": try actor(h.worker),
            "other_agency": try actor(other.agency), "other_employer": try actor(other.employer), "other_worker": try actor(other.worker),
            "integration": "integration:\(policeID.text)/", "other_integration": "integration:\(bureauID.text)/",
        ]
        return MatrixWorld(
            registry: registry,
            values: values,
            logins: logins,
            keys: ["integration": policeKey, "other_integration": bureauKey],
            actorIDs: actorIDs
        )
    }
}
