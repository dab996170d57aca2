import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryHTTP
import RegistryServices
import RegistryStorage
import Testing

@Suite("Agency demerit points")
struct DemeritTests {
    @Test(
        "a notice: recorded with evidence, told, answered once, upheld with a reason only after the answer; unanswered ones are upheld by the deadline; withdrawn ones never count"
    )
    func noticeAnswerDecision() async throws {
        try await withTestRegistry { registry, _ in
            let (agencyID, staff) = try await registry.approvedAgency(1)
            let (_, other) = try await registry.approvedAgency(2)
            let admin = try await registry.adminCaller
            let demerits = registry.demerits

            await expectError("recorded_by_system") {
                _ = try await demerits.record(
                    agencyID: agencyID.uuid,
                    .init(offence: "transfer_unanswered", evidence: "x"),
                    caller: admin,
                    logger: testLogger
                )
            }
            await expectError("invalid_field") {
                _ = try await demerits.record(agencyID: agencyID.uuid, .init(offence: "rudeness", evidence: "x"), caller: admin, logger: testLogger)
            }
            await expectError("missing_field") {
                _ = try await demerits.record(
                    agencyID: agencyID.uuid,
                    .init(offence: "late_sealing", evidence: "  "),
                    caller: admin,
                    logger: testLogger
                )
            }
            await expectError("forbidden") {
                _ = try await demerits.record(
                    agencyID: agencyID.uuid,
                    .init(offence: "late_sealing", evidence: "x"),
                    caller: staff,
                    logger: testLogger
                )
            }
            #expect(try await registry.notificationCount("demerit_notice") == 0)

            let late = try await demerits.record(
                agencyID: agencyID.uuid,
                .init(offence: "late_sealing", evidence: "转档同意后第九天才封存履历"),
                caller: admin,
                logger: testLogger
            )
            #expect(late.state == "notified" && late.points == 3 && late.recordedBy == "administrator" && !late.inForce)
            #expect(late.answerDue > Date().addingTimeInterval(13 * 86_400))
            #expect(try await registry.notificationCount("demerit_notice") == 1)
            #expect(try await registry.auditCount("demerit.recorded", subject: late.id) == 1)

            // The agency's right to answer comes first.
            await expectError("awaiting_answer") {
                _ = try await demerits.decide(late.id, uphold: true, reason: "属实", caller: admin, logger: testLogger)
            }
            await expectError("not_found") { _ = try await demerits.answer(late.id, text: "不是我们", caller: other, logger: testLogger) }
            let answered = try await demerits.answer(late.id, text: "系统故障，已补封存", caller: staff, logger: testLogger)
            #expect(answered.state == "answered" && answered.answer == "系统故障，已补封存")
            await expectError("demerit_not_open") { _ = try await demerits.answer(late.id, text: "再说一次", caller: staff, logger: testLogger) }
            await expectError("missing_field") { _ = try await demerits.decide(late.id, uphold: true, reason: "", caller: admin, logger: testLogger) }
            let upheld = try await demerits.decide(late.id, uphold: true, reason: "封存记录显示延误", caller: admin, logger: testLogger)
            #expect(upheld.state == "upheld" && upheld.inForce && upheld.decidedBy == "administrator")
            await expectError("demerit_decided") {
                _ = try await demerits.decide(late.id, uphold: false, reason: "改判", caller: admin, logger: testLogger)
            }
            var standing = try await demerits.standing(agencyID: nil, caller: staff, logger: testLogger)
            #expect(standing.points == 3 && standing.level == "none" && standing.demerits.count == 1)
            #expect(standing.thresholds["suspend_registrations"] == registry.policies.demerits.thresholds.suspendRegistrations)
            await expectError("not_found") { _ = try await demerits.standing(agencyID: agencyID.uuid, caller: other, logger: testLogger) }

            // Withdrawn: never counts.
            let unfounded = try await demerits.record(
                agencyID: agencyID.uuid,
                .init(offence: "flag_not_reported", evidence: "举报称机构知情"),
                caller: admin,
                logger: testLogger
            )
            let withdrawn = try await demerits.decide(unfounded.id, uphold: false, reason: "查无实据", caller: admin, logger: testLogger)
            #expect(withdrawn.state == "withdrawn" && !withdrawn.inForce)
            #expect(try await demerits.standing(agencyID: agencyID.uuid, caller: admin, logger: testLogger).points == 3)

            // Unanswered: upheld by the deadline job once its due date has passed, not before.
            let invented = try await demerits.record(
                agencyID: agencyID.uuid,
                .init(offence: "invented_review", evidence: "雇主账号由机构员工注册，评价系编造"),
                caller: admin,
                logger: testLogger
            )
            #expect(try await demerits.runDeadlines(logger: testLogger) == 0)
            try await registry.database.query(
                "UPDATE agency_demerits SET answer_due = now() - interval '1 minute' WHERE id = \(invented.id)",
                logger: testLogger
            )
            await expectError("answer_overdue") { _ = try await demerits.answer(invented.id, text: "迟到的答复", caller: staff, logger: testLogger) }
            #expect(try await demerits.runDeadlines(logger: testLogger) == 1)
            #expect(try await demerits.runDeadlines(logger: testLogger) == 0)
            standing = try await demerits.standing(agencyID: agencyID.uuid, caller: admin, logger: testLogger)
            let lapsed = try #require(standing.demerits.first { $0.id == invented.id })
            #expect(lapsed.state == "upheld" && lapsed.decidedBy == "deadline" && lapsed.decisionReason == nil)
            #expect(try await registry.auditCount("demerit.upheld_unanswered", subject: invented.id) == 1)
            #expect(try await registry.notificationCount("demerit_upheld_unanswered") == 1)
            #expect(try await demerits.queue(caller: admin, logger: testLogger).isEmpty)
        }
    }

    @Test(
        "the points in force set the level: 24 suspend new registrations, imports and transfer requests until points expire; each change is audited and told once"
    )
    func levelsAndExpiry() async throws {
        try await withTestRegistry { registry, _ in
            let (agencyID, staff) = try await registry.approvedAgency(1)
            let admin = try await registry.adminCaller
            let demerits = registry.demerits
            func uphold(_ offence: String) async throws -> UUID {
                let d = try await demerits.record(agencyID: agencyID.uuid, .init(offence: offence, evidence: "证据"), caller: admin, logger: testLogger)
                _ = try await demerits.answer(d.id, text: "答复", caller: staff, logger: testLogger)
                _ = try await demerits.decide(d.id, uphold: true, reason: "属实", caller: admin, logger: testLogger)
                return d.id
            }
            _ = try await uphold("flag_not_reported")  // 12: a warning
            #expect(try await demerits.standing(agencyID: nil, caller: staff, logger: testLogger).level == "warning")
            #expect(try await registry.notificationCount("demerit_level_warning") == 1)
            _ = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber(serial: 201)), caller: staff, logger: testLogger)

            let invented = try await uphold("invented_review")  // 36: registrations suspended, and the case level
            let standing = try await demerits.standing(agencyID: nil, caller: staff, logger: testLogger)
            #expect(standing.points == 36 && standing.level == "case")
            #expect(try await registry.notificationCount("demerit_level_case") == 1)
            await expectError("registrations_suspended") {
                _ = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber(serial: 203)), caller: staff, logger: testLogger)
            }
            let (_, elsewhere) = try await registry.approvedAgency(2)
            let theirs = Fixtures.idNumber(serial: 205)
            _ = try await registry.workers.register(Fixtures.registration(theirs, phone: nil), caller: elsewhere, logger: testLogger)
            await expectError("registrations_suspended") {
                _ = try await registry.transfers.request(idNumber: theirs, caller: staff, logger: testLogger)
            }
            // The refused registration wrote nothing.
            let rows = try await registry.database.query(
                "SELECT count(*)::int FROM workers WHERE current_agency_id = \(agencyID.uuid)",
                logger: testLogger
            )
            for try await n in rows.decode(Int.self) { #expect(n == 1) }
            #expect(try await registry.auditCount("agency.demerit_level", subject: agencyID.uuid) == 2)

            // The invented review's points expire: back to a warning, and registrations reopen.
            try await registry.database.query(
                "UPDATE agency_demerits SET expires_at = now() - interval '1 minute' WHERE id = \(invented)",
                logger: testLogger
            )
            #expect(try await demerits.runDeadlines(logger: testLogger) == 1)
            #expect(try await demerits.runDeadlines(logger: testLogger) == 0)
            #expect(try await demerits.standing(agencyID: nil, caller: staff, logger: testLogger).level == "warning")
            #expect(try await registry.notificationCount("demerit_level_lowered") == 1)
            _ = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber(serial: 207)), caller: staff, logger: testLogger)
        }
    }

    @Test(
        "the registry records its own offences, once per event: an assessment overturned on dispute, a transfer moved by the deadline, a suspended worker's placement attempted"
    )
    func recordedBySystem() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            func offences() async throws -> [String] {
                try await registry.demerits.standing(agencyID: h.agencyID.uuid, caller: admin, logger: testLogger).demerits.map(\.offence).sorted()
            }

            // An assessment overturned on the worker's dispute.
            let tenure = try await registry.sealedTenure(worker: h.workerID, agency: h.agencyID)
            let dispute = try await registry.tenureDisputes.raise(tenureID: tenure, reason: "评分不实", caller: h.worker, logger: testLogger)
            try await registry.tenureDisputes.decide(dispute, uphold: true, note: "雇主评价均为好评，评分无据", caller: admin, logger: testLogger)
            #expect(try await offences() == ["assessment_overturned"])
            let notice = try #require(
                try await registry.demerits.standing(agencyID: h.agencyID.uuid, caller: admin, logger: testLogger).demerits.first
            )
            #expect(notice.recordedBy == "system" && notice.workerId == h.workerID.uuid && notice.evidence.contains("评分无据"))

            // A placement of a suspended worker attempted: refused, and recorded once that day.
            try await registry.database.query("UPDATE workers SET status = 'suspended' WHERE id = \(h.workerID.uuid)", logger: testLogger)
            for _ in 0..<2 {
                await expectError("not_active") {
                    _ = try await registry.engagements.place(
                        .init(
                            workerId: h.workerID.uuid,
                            employerEmail: "home@example.cn",
                            employerPhone: nil,
                            category: "nanny",
                            startsOn: "2026-01-01"
                        ),
                        caller: h.agency,
                        logger: testLogger
                    )
                }
            }
            #expect(try await offences() == ["assessment_overturned", "suspended_worker_placement"])
            try await registry.database.query("UPDATE workers SET status = 'active' WHERE id = \(h.workerID.uuid)", logger: testLogger)

            // A consented transfer the agency left unsealed until the deadline moved the file.
            let (_, newAgency) = try await registry.approvedAgency(2)
            let idNumber = Fixtures.idNumber(serial: 101)
            let requested = try await registry.transfers.request(idNumber: idNumber, caller: newAgency, logger: testLogger)
            let transfer = try #require(UUID(uuidString: requested.transfer.id))
            _ = try await registry.transfers.consent(transfer, code: nil, caller: h.worker, logger: testLogger)
            try await registry.database.query(
                "UPDATE transfers SET seal_deadline = now() - interval '1 minute' WHERE id = \(transfer)",
                logger: testLogger
            )
            #expect(try await registry.transfers.completeOverdue(logger: testLogger) == 1)
            #expect(try await offences() == ["assessment_overturned", "suspended_worker_placement", "transfer_unanswered"])
            #expect(try await registry.notificationCount("demerit_notice") == 3)
        }
    }

    @Test(
        "on the pages: an administrator records a notice, the agency answers it (an empty answer is shown next to it), the administrator upholds it"
    )
    func pages() async throws {
        try await withTestRegistry { registry, _ in
            let (agencyID, _) = try await registry.approvedAgency(1)
            _ = try await registry.makeUser(role: .admin, email: "judge@example.cn", password: "admin password")
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                var admin = PageClient(client: client)
                admin.cookies["lang"] = "en"
                _ = try await admin.signIn(email: "judge@example.cn", password: "admin password")
                let file = "/admin/agencies/\(agencyID.text)/demerits"
                _ = try await admin.get(file)
                let empty = try await admin.post(file, ["offence": "late_sealing", "evidence": ""])
                #expect(empty.status == .badRequest && String(buffer: empty.body).contains("id=\"evidence-error\""))
                let recorded = try await admin.post(file, ["offence": "late_sealing", "evidence": "转档同意后第九天才封存履历"])
                #expect(recorded.status == .seeOther)
                let id = try #require(try await registry.demerits.queue(caller: try await registry.adminCaller, logger: testLogger).first?.id)

                var agency = PageClient(client: client)
                _ = try await agency.signIn(email: "staff1@agency.cn", password: "agency password 1")
                let html = String(buffer: try await agency.get("/agency/demerits").body)
                #expect(html.contains("转档同意后第九天才封存履历") && html.contains("/agency/demerits/\(id.text)/answer"))
                let blank = try await agency.post("/agency/demerits/\(id.text)/answer", ["answer": " "])
                #expect(blank.status == .badRequest && String(buffer: blank.body).contains("id=\"error-\(id.text)\""))
                let answered = try await agency.post("/agency/demerits/\(id.text)/answer", ["answer": "系统故障，已补封存"])
                #expect(answered.status == .seeOther)

                _ = try await admin.get(file)
                let noReason = try await admin.post("/admin/demerits/\(id.text)/decision", ["decision": "uphold", "reason": ""])
                #expect(noReason.status == .badRequest)
                let upheld = try await admin.post("/admin/demerits/\(id.text)/decision", ["decision": "uphold", "reason": "封存记录显示延误"])
                #expect(upheld.status == .seeOther && upheld.headers[.location] == file + "?notice=demerit_upheld")
                let after = String(buffer: try await admin.get(file).body)
                #expect(after.contains("id=\"points-in-force\">3<"))
            }
        }
    }

    @Test("the agency's public standing: band, points in force and confirmed placements, on its page and on the report; never a pending agency")
    func publicStanding() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            let version = registry.policies.commitments.agency.version
            var agency = try await registry.demerits.publicAgency(h.agencyID.uuid, commitmentInForce: version, logger: testLogger)
            #expect(agency.band == "A" && agency.points == 0 && agency.placements == 0)
            #expect(agency.commitment?.representative == "法定代表人" && agency.commitment?.current == true)

            // A placement counts once the household confirms it.
            let engagement = try await registry.engagements.place(
                .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                caller: h.agency,
                logger: testLogger
            )
            #expect(try await registry.demerits.publicAgency(h.agencyID.uuid, commitmentInForce: version, logger: testLogger).placements == 0)
            _ = try await registry.engagements.transition(engagement, "confirm", caller: h.employer, logger: testLogger)
            _ = try await registry.engagements.transition(engagement, "end", caller: h.employer, logger: testLogger)
            agency = try await registry.demerits.publicAgency(h.agencyID.uuid, commitmentInForce: version, logger: testLogger)
            #expect(agency.placements == 1)

            // Upheld points lower the band, on the page and on the report.
            let d = try await registry.demerits.record(
                agencyID: h.agencyID.uuid,
                .init(offence: "late_sealing", evidence: "封存延误九天的内部记录"),
                caller: admin,
                logger: testLogger
            )
            _ = try await registry.demerits.answer(d.id, text: "答复", caller: h.agency, logger: testLogger)
            _ = try await registry.demerits.decide(d.id, uphold: true, reason: "属实", caller: admin, logger: testLogger)
            agency = try await registry.demerits.publicAgency(h.agencyID.uuid, commitmentInForce: version, logger: testLogger)
            #expect(agency.band == "B" && agency.points == 3 && agency.level == "none")
            let report = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            let onReport = try #require(report.agency)
            #expect(onReport.id == h.agencyID.text && onReport.band == "B" && onReport.points == 3 && onReport.placements == 1)

            // A pending agency has no public page.
            let (pending, _) = try await registry.approvedAgency(5, approve: false)
            await expectError("not_found") {
                _ = try await registry.demerits.publicAgency(pending.uuid, commitmentInForce: version, logger: testLogger)
            }
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                var visitor = PageClient(client: client)
                let html = String(buffer: try await visitor.get("/agencies/\(h.agencyID.text)").body)
                #expect(html.contains("id=\"agency-band\">B<") && html.contains("id=\"agency-placements\">1<"))
                #expect(!html.contains("封存延误九天的内部记录"))
                #expect(try await visitor.get("/agencies/\(pending.text)").status == .notFound)
            }
        }
    }

    @Test(
        "the case threshold opens a case against the agency: one administrator proposes, the agency objects within the window, another decides; a confirmed suspension suspends the agency"
    )
    func caseAgainstTheAgency() async throws {
        try await withTestRegistry { registry, _ in
            let (agencyID, staff) = try await registry.approvedAgency(1)
            let (_, other) = try await registry.approvedAgency(2)
            let admin = try await registry.adminCaller
            let second = try await registry.adminCaller
            let demerits = registry.demerits
            for offence in ["flag_not_reported", "invented_review"] {
                #expect(try await demerits.cases(caller: admin, logger: testLogger).isEmpty)
                let d = try await demerits.record(
                    agencyID: agencyID.uuid,
                    .init(offence: offence, evidence: "核查记录"),
                    caller: admin,
                    logger: testLogger
                )
                _ = try await demerits.answer(d.id, text: "整改", caller: staff, logger: testLogger)
                _ = try await demerits.decide(d.id, uphold: true, reason: "属实", caller: admin, logger: testLogger)
            }
            let open = try #require(try await demerits.cases(caller: staff, logger: testLogger).first)
            #expect(open.state == "open" && open.points == 36)
            #expect(try await demerits.cases(caller: other, logger: testLogger).isEmpty)
            #expect(try await registry.notificationCount("agency_case_opened") == 1)

            await expectError("objection_closed") { _ = try await demerits.objectToCase(open.id, text: "早了", caller: staff, logger: testLogger) }
            await expectError("invalid_field") {
                _ = try await demerits.proposeCase(open.id, outcome: "fine", reason: "罚款", caller: admin, logger: testLogger)
            }
            let proposed = try await demerits.proposeCase(open.id, outcome: "suspend_agency", reason: "编造评价，情节严重", caller: admin, logger: testLogger)
            #expect(proposed.state == "proposed" && proposed.objectionUntil != nil)
            await expectError("case_not_open") {
                _ = try await demerits.proposeCase(open.id, outcome: "dismiss", reason: "改", caller: second, logger: testLogger)
            }
            // Four eyes; and while the window is open only an objection moves it on.
            await expectError("four_eyes") {
                _ = try await demerits.decideCase(open.id, confirm: true, reason: "同意", caller: admin, logger: testLogger)
            }
            await expectError("objection_window_open") {
                _ = try await demerits.decideCase(open.id, confirm: true, reason: "同意", caller: second, logger: testLogger)
            }
            await expectError("not_found") { _ = try await demerits.objectToCase(open.id, text: "不是我们", caller: other, logger: testLogger) }
            #expect(try await demerits.objectToCase(open.id, text: "评价由雇主本人填写，有聊天记录为证。", caller: staff, logger: testLogger).state == "objected")
            await expectError("objection_closed") { _ = try await demerits.objectToCase(open.id, text: "再说", caller: staff, logger: testLogger) }
            let decided = try await demerits.decideCase(open.id, confirm: true, reason: "异议不成立", caller: second, logger: testLogger)
            #expect(decided.state == "decided" && decided.outcome == "suspend_agency")
            let agency = try await registry.agencies.get(agencyID, caller: admin, logger: testLogger)
            #expect(agency.status == "suspended")
            #expect(try await registry.auditCount("agency_case.decided", subject: open.id) == 1)
        }
    }

    @Test(
        "a case against the agency on the pages: proposed by one administrator, objected to by the agency, decided by another; each page passes the structural checks"
    )
    func casePages() async throws {
        try await withTestRegistry { registry, _ in
            let (agencyID, staff) = try await registry.approvedAgency(1)
            let admin = try await registry.adminCaller
            for offence in ["flag_not_reported", "invented_review"] {
                let d = try await registry.demerits.record(
                    agencyID: agencyID.uuid,
                    .init(offence: offence, evidence: "核查记录"),
                    caller: admin,
                    logger: testLogger
                )
                _ = try await registry.demerits.answer(d.id, text: "整改", caller: staff, logger: testLogger)
                _ = try await registry.demerits.decide(d.id, uphold: true, reason: "属实", caller: admin, logger: testLogger)
            }
            let caseID = try #require(try await registry.demerits.cases(caller: admin, logger: testLogger).first?.id)
            _ = try await registry.makeUser(role: .admin, email: "first@example.cn", password: "admin password")
            _ = try await registry.makeUser(role: .admin, email: "second@example.cn", password: "admin password")
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                let file = "/admin/agencies/\(agencyID.text)/demerits"
                var first = PageClient(client: client)
                _ = try await first.signIn(email: "first@example.cn", password: "admin password")
                let html = String(buffer: try await first.get(file).body)
                #expect(html.contains("/admin/agency-cases/\(caseID.text)/proposal"))
                #expect(PagesAccessibilityTests.problems(html, language: "zh-CN").isEmpty)
                let empty = try await first.post("/admin/agency-cases/\(caseID.text)/proposal", ["proposal": "suspend_agency", "reason": ""])
                #expect(empty.status == .badRequest && String(buffer: empty.body).contains("id=\"case-error-\(caseID.text)\""))
                let proposed = try await first.post("/admin/agency-cases/\(caseID.text)/proposal", ["proposal": "suspend_agency", "reason": "编造评价"])
                #expect(proposed.headers[.location] == file + "?notice=agency_case_proposal")

                var agency = PageClient(client: client)
                _ = try await agency.signIn(email: "staff1@agency.cn", password: "agency password 1")
                let own = String(buffer: try await agency.get("/agency/demerits").body)
                #expect(own.contains("/agency/agency-cases/\(caseID.text)/objection"))
                #expect(PagesAccessibilityTests.problems(own, language: "zh-CN").isEmpty)
                let objected = try await agency.post("/agency/agency-cases/\(caseID.text)/objection", ["objection": "评价由雇主本人填写"])
                #expect(objected.headers[.location] == "/agency/demerits?notice=agency_case_objection")

                _ = try await first.get(file)
                let own4 = try await first.post("/admin/agency-cases/\(caseID.text)/decision", ["confirm": "true", "reason": "同意"])
                #expect(own4.status == .forbidden)
                var second = PageClient(client: client)
                _ = try await second.signIn(email: "second@example.cn", password: "admin password")
                _ = try await second.get(file)
                let decided = try await second.post("/admin/agency-cases/\(caseID.text)/decision", ["confirm": "false", "reason": "异议成立"])
                #expect(decided.headers[.location] == file + "?notice=agency_case_decision")
                #expect(try await registry.demerits.cases(caller: staff, logger: testLogger).first?.outcome == "dismiss")
            }
        }
    }
}
