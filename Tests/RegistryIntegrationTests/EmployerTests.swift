import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Testing

/// A worker with an agency, an activated account, and an employer, ready for checks.
struct Household {
    var agency: Caller
    var agencyID: AgencyID
    var workerID: WorkerID
    var worker: Caller
    var employer: Caller
    var employerID: UserID

    static func make(_ registry: Registry, n: Int = 1, employerEmail: String = "home@example.cn") async throws -> Household {
        let (agencyID, agency) = try await registry.approvedAgency(n)
        let workerID = try await registry.workers.register(
            Fixtures.registration(Fixtures.idNumber(serial: 100 + n), phone: "1380013800\(n)"),
            caller: agency,
            logger: testLogger
        )
        _ = try await registry.accounts.startWorkerAccount(workerID, caller: agency, logger: testLogger)
        let code = try #require(try await registry.lastCode("worker_activation_code"))
        try await registry.accounts.activateWorker(
            phone: "1380013800\(n)",
            code: code,
            password: "worker password",
            throttle: registry.policies.authentication,
            logger: testLogger
        )
        let user = try await registry.database.withConnection { connection in
            try await AccountStore.find(email: nil, phone: "1380013800\(n)", on: connection, logger: testLogger)
        }
        let worker = Caller(
            Principal(
                .user(
                    id: UserID(user!.id),
                    role: .worker,
                    agencyID: nil,
                    workerID: workerID
                )
            )
        )
        let employerID = try await registry.accounts.registerEmployer(
            .init(email: employerEmail, phone: nil, password: "employer password", householdName: "张家", regionCode: "320102"),
            caller: .system,
            logger: testLogger
        )
        let employer = Caller(Principal(.user(id: employerID, role: .employer, agencyID: nil, workerID: nil)))
        try await registry.verifyPhone(Fixtures.householdPhone(employerEmail), caller: employer)
        return Household(agency: agency, agencyID: agencyID, workerID: workerID, worker: worker, employer: employer, employerID: employerID)
    }
}

extension Registry {
    func lastCode(_ template: String) async throws -> String? {
        let rows = try await database.query(
            """
            SELECT payload->>'code' FROM notifications WHERE template = \(template) ORDER BY id DESC LIMIT 1
            """,
            logger: testLogger
        )
        for try await code in rows.decode(String?.self) { return code }
        return nil
    }

    func inquiryCount(_ worker: UUID) async throws -> Int {
        let rows = try await database.query("SELECT count(*)::int FROM inquiries WHERE worker_id = \(worker)", logger: testLogger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }
}

@Suite("Employers, consent, the report, engagements and reviews")
struct EmployerTests {
    func scores(_ s: Int = 4) -> EngagementService.ReviewInput {
        .init(
            skillScores: ["punctuality": s, "quality": s],
            ethicsScores: ["honesty": s, "respect": s, "reliability": s, "care": s],
            comment: "<b>认真</b> & 负责"
        )
    }

    @Test("no report without consent or engagement; a code is single-use, expires, and each view is an inquiry she can see")
    func consentAndInquiries() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let denied = await #expect(throws: RegistryError.self) {
                try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            }
            #expect(denied?.kind == .forbidden && denied?.code == "consent_required")
            #expect(try await registry.inquiryCount(h.workerID.uuid) == 0)

            let issued = try await registry.consents.issue(caller: h.worker, logger: testLogger)
            let code = try #require(issued.code)
            #expect(code.count == 8 && issued.checkPath == "/check?code=\(code)")
            let redeemed = try await registry.consents.redeem(code: code.lowercased(), caller: h.employer, logger: testLogger)
            #expect(redeemed.workerId == h.workerID.text)
            // Single use: a second employer cannot use it.
            let other = try await registry.accounts.registerEmployer(
                .init(
                    email: "other@example.cn",
                    phone: nil,
                    password: "employer password",
                    householdName: "李家",
                    regionCode: "320102"
                ),
                caller: .system,
                logger: testLogger
            )
            let otherCaller = Caller(Principal(.user(id: other, role: .employer, agencyID: nil, workerID: nil)))
            let reused = await #expect(throws: RegistryError.self) {
                try await registry.consents.redeem(code: code, caller: otherCaller, logger: testLogger)
            }
            #expect(reused?.code == "invalid_code")

            let report = try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            #expect(report.worker.fullName == "李秀英")
            #expect(report.worker.homeProvince == "320000")
            _ = try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            // Her own view is not an inquiry; the employer's two are, and she sees them.
            _ = try await registry.reports.report(h.workerID, caller: h.worker, logger: testLogger)
            let inquiries = try await registry.reports.inquiries(caller: h.worker, logger: testLogger)
            #expect(inquiries.count == 2)
            #expect(inquiries.allSatisfy { $0.viewerName == "张家" && $0.purpose == "pre_hire_check" && $0.consentID != nil })
            #expect(try await registry.auditCount("report.viewed", subject: h.workerID.uuid) == 2)

            // Expired codes do not redeem.
            let second = try #require(try await registry.consents.issue(caller: h.worker, logger: testLogger).code)
            try await registry.database.query(
                "UPDATE consents SET expires_at = now() - interval '1 second' WHERE used_at IS NULL",
                logger: testLogger
            )
            await expectError("invalid_code") { try await registry.consents.redeem(code: second, caller: otherCaller, logger: testLogger) }
            // Access ends when the window closes.
            try await registry.database.query("UPDATE consents SET access_until = now() - interval '1 second'", logger: testLogger)
            await expectError("consent_required") {
                try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            }
            // Her list shows who used which code.
            let list = try await registry.consents.list(caller: h.worker, logger: testLogger)
            #expect(list.count == 2 && list.contains { $0.usedByName == "张家" })
        }
    }

    @Test("guessing codes is throttled per employer")
    func redeemThrottled() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            var last: RegistryError?
            for _ in 0..<(registry.policies.reports.redeemFailuresAllowed + 1) {
                do { _ = try await registry.consents.redeem(code: "ABCDEFGH", caller: h.employer, logger: testLogger) } catch let e as RegistryError {
                    last = e
                }
            }
            #expect(last?.kind == .throttled && last?.code == "too_many_attempts")
            let code = try #require(try await registry.consents.issue(caller: h.worker, logger: testLogger).code)
            let blocked = await #expect(throws: RegistryError.self) {
                try await registry.consents.redeem(code: code, caller: h.employer, logger: testLogger)
            }
            #expect(blocked?.kind == .throttled && blocked?.code == "too_many_attempts")
            // Per employer: another household's guesses are still looked at.
            let otherID = try await registry.accounts.registerEmployer(
                .init(email: "other-home@example.cn", phone: nil, password: "employer password", householdName: "李家", regionCode: "320102"),
                caller: .system,
                logger: testLogger
            )
            let other = Caller(Principal(.user(id: otherID, role: .employer, agencyID: nil, workerID: nil)))
            await expectError("invalid_code") { _ = try await registry.consents.redeem(code: "ABCDEFGH", caller: other, logger: testLogger) }
        }
    }

    @Test(
        "engagements and reviews: only the engagement's employer, once, after it started; frozen after the window; one reply; hidden reviews leave the report but stay in the audit log"
    )
    func reviews() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let e = try await registry.engagement(h, confirmedBy: nil)
            // Not before the employer confirms.
            let early = await #expect(throws: RegistryError.self) {
                try await registry.engagements.review(engagement: e, scores(), caller: h.employer, logger: testLogger)
            }
            #expect(early?.code == "not_confirmed")
            await expectError("not_a_party") { try await registry.engagements.transition(e, "confirm", caller: h.agency, logger: testLogger) }
            _ = try await registry.engagements.transition(e, "confirm", caller: h.employer, logger: testLogger)
            // With an active engagement she reads the report without a code.
            let report = try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            #expect(report.engagements.count == 1)

            // Another employer cannot review it.
            let stranger = try await registry.accounts.registerEmployer(
                .init(
                    email: "x@example.cn",
                    phone: nil,
                    password: "employer password",
                    householdName: "王家",
                    regionCode: "320102"
                ),
                caller: .system,
                logger: testLogger
            )
            let strangerCaller = Caller(Principal(.user(id: stranger, role: .employer, agencyID: nil, workerID: nil)))
            await #expect(throws: RegistryError.notFound("Engagement")) {
                try await registry.engagements.review(engagement: e, scores(), caller: strangerCaller, logger: testLogger)
            }
            // Bad scores are refused naming the field.
            var bad = scores()
            bad.ethicsScores["honesty"] = 9
            let invalid = await #expect(throws: RegistryError.self) {
                try await registry.engagements.review(engagement: e, bad, caller: h.employer, logger: testLogger)
            }
            #expect(invalid?.code == "invalid_field" && invalid?.field == "ethics_scores.honesty")
            var missing = scores()
            missing.ethicsScores.removeValue(forKey: "care")
            await expectError("missing_field") {
                try await registry.engagements.review(engagement: e, missing, caller: h.employer, logger: testLogger)
            }

            let reviewID = try await registry.engagements.review(engagement: e, scores(2), caller: h.employer, logger: testLogger)
            let twice = await #expect(throws: RegistryError.self) {
                try await registry.engagements.review(engagement: e, scores(), caller: h.employer, logger: testLogger)
            }
            #expect(twice?.code == "review_exists")
            // Editable within the window, both versions audited; then frozen.
            try await registry.engagements.editReview(reviewID, scores(3), caller: h.employer, logger: testLogger)
            #expect(try await registry.auditCount("review.edited", subject: reviewID) == 1)
            #expect(try await registry.reviewGraderColumnsDiffering() == 0)
            // The policy's window, not a constant: an hour before it closes the review is still editable, an hour after it is frozen.
            let window = registry.policies.reports.reviewEditHours
            func age(_ hours: Int) async throws {
                try await registry.database.query(
                    "UPDATE reviews SET created_at = now() - make_interval(hours => \(hours)::int) WHERE id = \(reviewID)",
                    logger: testLogger
                )
            }
            try await age(window - 1)
            try await registry.engagements.editReview(reviewID, scores(3), caller: h.employer, logger: testLogger)
            #expect(try await registry.auditCount("review.edited", subject: reviewID) == 2)
            try await age(window + 1)
            let frozen = await #expect(throws: RegistryError.self) {
                try await registry.engagements.editReview(reviewID, scores(5), caller: h.employer, logger: testLogger)
            }
            #expect(frozen?.code == "review_frozen")

            // One reply, by her.
            await expectError("forbidden") { try await registry.engagements.reply(reviewID, body: "no", caller: strangerCaller, logger: testLogger) }
            try await registry.engagements.reply(reviewID, body: "谢谢，我会改进。", caller: h.worker, logger: testLogger)
            let again = await #expect(throws: RegistryError.self) {
                try await registry.engagements.reply(reviewID, body: "again", caller: h.worker, logger: testLogger)
            }
            #expect(again?.code == "reply_exists")
            var seen = try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            #expect(seen.reviews.count == 1 && seen.reviews.recent.first?.reply == "谢谢，我会改进。")
            #expect(seen.reviews.recent.first?.comment == "<b>认真</b> & 负责")  // stored as written; pages escape it
            #expect(seen.reviews.ethicsAverages["honesty"] == 3)

            // She disputes; an administrator upholds: hidden from the report, kept and audited.
            let dispute = try await registry.engagements.dispute(reviewID, reason: "这次评价与事实不符", caller: h.worker, logger: testLogger)
            let admin = try await registry.adminCaller
            try await registry.engagements.decideDispute(dispute, uphold: true, note: "雇主承认评分有误", caller: admin, logger: testLogger)
            seen = try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            #expect(seen.reviews.count == 0 && seen.reviews.recent.isEmpty)
            #expect(try await registry.auditCount("review.created", subject: reviewID) == 1)
            #expect(try await registry.auditCount("review.hidden", subject: reviewID) == 1)
            let stillThere = try await registry.database.query(
                "SELECT count(*)::int FROM reviews WHERE id = \(reviewID) AND hidden_at IS NOT NULL",
                logger: testLogger
            )
            #expect(try await single(stillThere, Int.self) == 1)
            await expectError("dispute_decided") {
                try await registry.engagements.decideDispute(dispute, uphold: false, note: "again", caller: admin, logger: testLogger)
            }
            // Ending the engagement: only confirmed ones count, and an ended one no longer grants access.
            _ = try await registry.engagements.transition(e, "end", caller: h.agency, logger: testLogger)
            await expectError("consent_required") {
                try await registry.reports.report(h.workerID, caller: h.employer, logger: testLogger)
            }
            // Not before it started: an engagement that starts next month cannot be reviewed yet, even confirmed.
            let later = try await registry.engagements.place(
                .init(
                    workerId: h.workerID.uuid,
                    employerEmail: "home@example.cn",
                    employerPhone: nil,
                    category: "nanny",
                    startsOn: CivilDate.today().adding(days: 30).iso
                ),
                caller: h.agency,
                logger: testLogger
            )
            _ = try await registry.engagements.transition(later, "confirm", caller: h.employer, logger: testLogger)
            await expectError("not_started") {
                _ = try await registry.engagements.review(engagement: later, scores(), caller: h.employer, logger: testLogger)
            }
        }
    }

    @Test("the signed report verifies, and fails after any byte changes")
    func signature() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let report = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            let signed = try registry.reports.sign(report)
            let ok = registry.reports.verify(signed)
            #expect(ok.valid && ok.workerId == h.workerID.text)
            // Flip each byte in turn: every change fails.
            let bytes = Array(signed.payload.utf8)
            #expect(bytes.count > 200)
            for index in bytes.indices {
                var changed = bytes
                changed[index] = changed[index] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
                var tampered = signed
                tampered.payload = String(decoding: changed, as: UTF8.self)
                #expect(!registry.reports.verify(tampered).valid, "byte \(index)")
            }
            // A document signed by another key (even one that names itself inside) fails.
            let other = ReportService.verify(signed, publicKey: Curve25519.Signing.PrivateKey().publicKey, now: Date())
            #expect(!other.valid)
            var garbage = signed
            garbage.signature = "not base64!"
            #expect(!registry.reports.verify(garbage).valid)
            // The document carries its issue time, expiry and the registry's key id; once expired it is refused, saying when it was issued.
            #expect(ok.keyId == ReportService.keyID(registry.keys.signingKey.publicKey) && signed.keyId == ok.keyId)
            #expect(ok.expiresAt != nil && ok.issuedAt != nil)
            let validDays = registry.policies.reports.signedReportValidDays
            let lastDay = try registry.reports.sign(report, now: Date().addingTimeInterval(Double(-validDays * 86_400 + 3_600)))
            #expect(registry.reports.verify(lastDay).valid, "a report is valid for \(validDays) days")
            let old = try registry.reports.sign(report, now: Date().addingTimeInterval(Double(-validDays * 86_400 - 3_600)))
            let expired = registry.reports.verify(old)
            #expect(
                !expired.valid && expired.reason?.contains("issued") == true && expired.reason?.contains("expired") == true,
                "\(String(describing: expired.reason))"
            )
        }
    }

    @Test("search for hire: only listed, active workers; filters and pagination")
    func search() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry, n: 1)
            let (_, agency) = (h.agencyID, h.agency)
            var ids: [UUID] = [h.workerID.uuid]
            var nameOf = [h.workerID.text: "李秀英"]
            for i in 0..<6 {
                let id = try await registry.workers.register(
                    .init(
                        idNumber: Fixtures.idNumber(serial: 500 + 2 * i),
                        fullName: "工人\(i)",
                        sex: "F",
                        phone: nil,
                        homeRegion: i < 3 ? "320102" : "110105",
                        serviceCategories: i % 2 == 0 ? ["nanny"] : ["cooking"]
                    ),
                    caller: agency,
                    logger: testLogger
                )
                nameOf[id.text] = "工人\(i)"
                _ = try await registry.workers.addSkill(
                    id,
                    .init(
                        category: i % 2 == 0 ? "nanny" : "cooking",
                        level: 1 + i % 5,
                        assessedOn: "2026-01-01",
                        assessor: "X",
                        note: nil
                    ),
                    caller: agency,
                    logger: testLogger
                )
                ids.append(id.uuid)
            }
            // Only workers who listed themselves appear: list all but one.
            for id in ids.dropLast() {
                try await registry.database.query("UPDATE workers SET available_for_hire = true WHERE id = \(id)", logger: testLogger)
            }
            try await registry.accounts.setAvailable(true, caller: h.worker, logger: testLogger)
            func find(_ s: ReportService.Search) async throws -> [String] {
                try await registry.reports.searchAvailable(s, caller: h.employer, logger: testLogger).map { nameOf[$0.id] ?? "?" }
            }
            let all = try await find(.init(region: nil, category: nil, minLevel: nil, minGrade: nil, limit: 50, offset: 0))
            #expect(all.count == 6 && !all.contains("工人5"))
            #expect(
                try await find(.init(region: "110000", category: nil, minLevel: nil, minGrade: nil, limit: 50, offset: 0)).sorted() == ["工人3", "工人4"]
            )
            #expect(try await find(.init(region: nil, category: "nanny", minLevel: 3, minGrade: nil, limit: 50, offset: 0)) == ["工人2", "工人4"])
            let page1 = try await find(.init(region: nil, category: nil, minLevel: nil, minGrade: nil, limit: 4, offset: 0))
            let page2 = try await find(.init(region: nil, category: nil, minLevel: nil, minGrade: nil, limit: 4, offset: 4))
            #expect(page1.count == 4 && page2.count == 2 && Set(page1 + page2).count == 6)
            await expectError("invalid_field") {
                try await registry.reports.searchAvailable(
                    .init(region: "32", category: nil, minLevel: nil, minGrade: nil, limit: 5, offset: 0),
                    caller: h.employer,
                    logger: testLogger
                )
            }
            await expectError("invalid_field") {
                try await registry.reports.searchAvailable(
                    .init(region: nil, category: nil, minLevel: nil, minGrade: "Z", limit: 5, offset: 0),
                    caller: h.employer,
                    logger: testLogger
                )
            }
            // What a listing shows before consent: the family name, age and province; no birth date, no county.
            let listed = try await registry.reports.searchAvailable(
                .init(
                    region: "110000",
                    category: nil,
                    minLevel: nil,
                    minGrade: nil,
                    limit: 50,
                    offset: 0
                ),
                caller: h.employer,
                logger: testLogger
            )
            #expect(listed.allSatisfy { $0.displayName == "工**" && $0.homeProvince == "110000" && $0.age > 16 }, "\(listed)")
            let encoded = String(decoding: try JSONEncoder().encode(listed), as: UTF8.self)
            #expect(!encoded.contains("110105") && !encoded.contains("工人") && !encoded.contains("birth"))
            let deep = await #expect(throws: RegistryError.self) {
                try await registry.reports.searchAvailable(
                    .init(
                        region: nil,
                        category: nil,
                        minLevel: nil,
                        minGrade: nil,
                        limit: 5,
                        offset: registry.policies.reports.searchOffsetMax + 1
                    ),
                    caller: h.employer,
                    logger: testLogger
                )
            }
            #expect(deep?.code == "invalid_field" && deep?.field == "offset")
            try await registry.accounts.setAvailable(false, caller: h.worker, logger: testLogger)
            #expect(try await find(.init(region: nil, category: nil, minLevel: nil, minGrade: nil, limit: 50, offset: 0)).count == 5)
        }
    }

    @Test("over HTTP: public ban lookup says only yes or no and is rate-limited; employer flow; 403 without consent")
    func overHTTP() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let lookup = try await client.execute(
                uri: "/api/v1/public/ban-status",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["id_number": Fixtures.idNumber(serial: 101)])
            )
            #expect(lookup.status == .ok)
            #expect(String(buffer: lookup.body) == #"{"revoked":false}"#)
            let unknown = try await client.execute(
                uri: "/api/v1/public/ban-status",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["id_number": Fixtures.idNumber(serial: 999)])
            )
            #expect(String(buffer: unknown.body) == #"{"revoked":false}"#)
            // Bar her (as an executed case would) and ask again.
            try await registry.database.withConnection { connection in
                let rows = try await connection.query(
                    """
                    INSERT INTO cases (worker_id, requester_kind, grounds, statement, state, policy_version)
                    VALUES (\(h.workerID), 'system', 'abuse', 'test', 'executed', 'test') RETURNING id
                    """,
                    logger: testLogger
                )
                var caseID: UUID?
                for try await id in rows.decode(UUID.self) { caseID = id }
                try await connection.query("INSERT INTO bans (worker_id, case_id) VALUES (\(h.workerID), \(caseID))", logger: testLogger)
            }
            let barred = try await client.execute(
                uri: "/api/v1/public/ban-status",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["id_number": Fixtures.idNumber(serial: 101)])
            )
            #expect(String(buffer: barred.body) == #"{"revoked":true}"#)
            let malformed = try await client.execute(
                uri: "/api/v1/public/ban-status",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["id_number": "123"])
            )
            #expect(malformed.status == .badRequest)
            // The limit counts per calendar minute: twice the limit (and two) guarantees that one
            // minute sees more than the limit even when the loop straddles a minute boundary.
            var throttled = false
            for _ in 0..<(2 * registry.policies.reports.publicLookupsPerMinute + 2) where !throttled {
                let r = try await client.execute(
                    uri: "/api/v1/public/ban-status",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: TestJSON.body(["id_number": Fixtures.idNumber(serial: 101)])
                )
                if r.status == .tooManyRequests { throttled = true }
            }
            #expect(throttled)

            // The employer signs in, is refused the report, redeems a code, reads it (also signed).
            let login = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["email": "home@example.cn", "password": "employer password"])
            )
            let bearer: HTTPFields = [
                .authorization: "Bearer \(TestJSON.object(login.body)["token"] as? String ?? "")", .contentType: "application/json",
            ]
            let refused = try await client.execute(uri: "/api/v1/workers/\(h.workerID)/report", method: .get, headers: bearer)
            #expect(refused.status == .forbidden)
            let code = try #require(try await registry.consents.issue(caller: h.worker, logger: testLogger).code)
            let redeem = try await client.execute(uri: "/api/v1/consents/redeem", method: .post, headers: bearer, body: TestJSON.body(["code": code]))
            #expect(redeem.status == .ok)
            let report = try await client.execute(uri: "/api/v1/workers/\(h.workerID)/report", method: .get, headers: bearer)
            #expect(report.status == .ok)
            #expect((TestJSON.object(report.body)["worker"] as? [String: Any])?["full_name"] as? String == "李秀英")
            #expect(!String(buffer: report.body).contains(Fixtures.idNumber(serial: 101)))
            let signed = try await client.execute(uri: "/api/v1/workers/\(h.workerID)/report?signed=true", method: .get, headers: bearer)
            let verify = try await client.execute(
                uri: "/api/v1/reports/verify",
                method: .post,
                headers: [.contentType: "application/json"],
                body: signed.body
            )
            #expect(TestJSON.object(verify.body)["valid"] as? Bool == true)
            // Self-registration of employers, and its bad input.
            let registered = try await client.execute(
                uri: "/api/v1/employers",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body([
                    "phone": "13912345678", "password": "employer password", "household_name": "赵家", "region_code": "110105",
                ])
            )
            #expect(registered.status == .accepted)
            // The same phone again: the same answer, and no second account.
            let again = try await client.execute(
                uri: "/api/v1/employers",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body([
                    "phone": "+86 139 1234 5678", "password": "another password", "household_name": "钱家", "region_code": "110105",
                ])
            )
            #expect(again.status == registered.status && again.body == registered.body, "\(String(buffer: again.body))")
            #expect(try await registry.count("SELECT count(*)::int FROM users WHERE phone = '13912345678' AND id <> $1", UUID()) == 1)
            let noContact = try await client.execute(
                uri: "/api/v1/employers",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body([
                    "password": "employer password", "household_name": "赵家", "region_code": "110105",
                ])
            )
            #expect(noContact.status == .badRequest)
        }
    }

    @Test("worker activation: wrong codes are refused and counted; the right one sets her password once")
    func activation() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let w = try await registry.workers.register(
                Fixtures.registration(Fixtures.idNumber(), phone: "13700000001"),
                caller: agency,
                logger: testLogger
            )
            let sent = try await registry.accounts.startWorkerAccount(w, caller: agency, logger: testLogger)
            #expect(sent == "137****0001")
            let code = try #require(try await registry.lastCode("worker_activation_code"))
            let wrong = await #expect(throws: RegistryError.self) {
                try await registry.accounts.activateWorker(
                    phone: "13700000001",
                    code: code == "000000" ? "111111" : "000000",
                    password: "my own password",
                    throttle: registry.policies.authentication,
                    logger: testLogger
                )
            }
            #expect(wrong?.code == "wrong_code")
            // Counted against the code.
            #expect(
                try await registry.count(
                    """
                    SELECT coalesce(sum(a.attempts), 0)::int FROM activation_codes a JOIN users u ON u.id = a.user_id WHERE u.worker_id = $1
                    """,
                    w.uuid
                ) == 1
            )
            try await registry.accounts.activateWorker(
                phone: "137 0000 0001",
                code: code,
                password: "my own password",
                throttle: registry.policies.authentication,
                logger: testLogger
            )
            let signedIn = try await registry.auth.login(
                .phone("13700000001"),
                password: "my own password",
                clientAddress: nil,
                presentedToken: nil,
                requestID: nil,
                logger: testLogger
            )
            #expect(signedIn.user.role == .worker && signedIn.user.workerID == w.uuid)
            await expectError("wrong_code") {
                try await registry.accounts.activateWorker(
                    phone: "13700000001",
                    code: code,
                    password: "another password",
                    throttle: registry.policies.authentication,
                    logger: testLogger
                )
            }
            await expectError("account_active") {
                try await registry.accounts.startWorkerAccount(w, caller: agency, logger: testLogger)
            }
        }
    }
}
