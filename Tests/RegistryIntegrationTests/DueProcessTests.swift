import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryHTTP
import RegistryServices
import RegistryStorage
import Testing

/// The holes of issue 15, each closed: every test here failed on the workflow before it.
@Suite("Due process")
struct DueProcessTests {
    func cmd(_ c: String, _ reason: String = "理由", outcome: String? = nil, channel: String? = nil, evidence: String? = nil) -> CaseService.Command {
        .init(command: c, reason: reason, outcome: outcome, channel: channel, evidenceId: evidence)
    }

    /// A case two administrators decided upheld: in its notice window.
    func decided(_ registry: Registry) async throws -> (Household, CaseID, [Caller], CaseService.View) {
        let (h, id) = try await registry.filedCase()
        let a = try await registry.admins(5)
        _ = try await registry.cases.act(id, cmd("start_review"), caller: a[0], logger: testLogger)
        _ = try await registry.cases.act(id, cmd("propose_decision", outcome: "upheld"), caller: a[0], logger: testLogger)
        let view = try await registry.cases.act(id, cmd("confirm_decision"), caller: a[1], logger: testLogger)
        return (h, id, a, view)
    }

    /// Executes the case: its window passed with no objection.
    func executed(_ registry: Registry) async throws -> (Household, CaseID, [Caller]) {
        let (h, id, a, view) = try await decided(registry)
        let ends = try #require(view.noticeEndsAt)
        #expect(try await registry.cases.executeDue(now: ends.addingTimeInterval(1), logger: testLogger) == 1)
        return (h, id, a)
    }

    func banned(_ registry: Registry) async throws -> Bool {
        try await registry.reports.banStatus(idNumber: Fixtures.idNumber(serial: 101), clientAddress: "t-\(UUID())", logger: testLogger)
    }

    @Test("a rejected objection waits for the window: no ban, no 'barred' in the lookup, until the window has ended")
    func rejectedObjectionWaits() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id, a, view) = try await decided(registry)
            _ = try await registry.cases.act(id, cmd("object", "不是我"), caller: h.worker, logger: testLogger)
            let rejected = try await registry.cases.act(id, cmd("reject_objection", "不成立"), caller: a[2], logger: testLogger)
            #expect(rejected.state == "final")
            #expect(try await registry.workerStatus(h.workerID) == "active")
            #expect(!(try await banned(registry)))
            #expect(try await registry.count("SELECT count(*)::int FROM bans WHERE worker_id = $1", h.workerID.uuid) == 0)
            #expect(try await registry.cases.executeDue(logger: testLogger) == 0)
            let ends = try #require(view.noticeEndsAt)
            #expect(try await registry.cases.executeDue(now: ends.addingTimeInterval(1), logger: testLogger) == 1)
            #expect(try await banned(registry))
        }
    }

    @Test("she appeals once after execution; those who took part cannot decide; an upheld appeal lifts the ban at once")
    func appeal() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id, a) = try await executed(registry)
            #expect(try await banned(registry))
            let hers = try await registry.cases.get(id, caller: h.worker, logger: testLogger)
            #expect(hers.allowed == ["appeal"] && hers.appealUntil != nil)
            let appealed = try await registry.cases.act(id, cmd("appeal", "监控里的人不是我，有新证人"), caller: h.worker, logger: testLogger)
            #expect(appealed.state == "appeal_review" && appealed.appeal?.channel == "worker" && appealed.allowed.isEmpty)
            for admin in [a[0], a[1]] {
                await expectError("took_part") { _ = try await registry.cases.act(id, cmd("uphold_appeal"), caller: admin, logger: testLogger) }
            }
            let reversed = try await registry.cases.act(id, cmd("uphold_appeal", "新证据成立"), caller: a[2], logger: testLogger)
            #expect(reversed.state == "reversed")
            #expect(try await registry.workerStatus(h.workerID) == "active")
            #expect(!(try await banned(registry)))
            #expect(try await registry.notificationCount("case_appeal_upheld") == 1)
            #expect(try await registry.auditCount("case.appeal") == 1)
            #expect(try await registry.auditCount("case.uphold_appeal") == 1)
            #expect(try await registry.auditCount("worker.reinstated", subject: h.workerID.uuid) == 1)
        }
    }

    @Test("an appeal after the period is refused; a rejected appeal keeps the ban and allows no second one")
    func appealRejectedAndLate() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id, a) = try await executed(registry)
            // Past the period, an appeal is refused.
            try await registry.database.query("UPDATE cases SET executed_at = now() - interval '90 days' WHERE id = \(id)", logger: testLogger)
            await expectError("appeal_over") { _ = try await registry.cases.act(id, cmd("appeal", "晚了"), caller: h.worker, logger: testLogger) }
            try await registry.database.query("UPDATE cases SET executed_at = now() WHERE id = \(id)", logger: testLogger)
            _ = try await registry.cases.act(id, cmd("appeal", "申诉"), caller: h.worker, logger: testLogger)
            let kept = try await registry.cases.act(id, cmd("reject_appeal", "维持"), caller: a[3], logger: testLogger)
            #expect(kept.state == "executed" && kept.appeal?.outcome == "rejected")
            #expect(try await banned(registry))
            await expectError("illegal_transition") {
                _ = try await registry.cases.act(id, cmd("appeal", "再次"), caller: h.worker, logger: testLogger)
            }
            #expect(try await registry.notificationCount("case_appeal_rejected") == 1)
        }
    }

    @Test("she applies for reinstatement herself after the policy's years (not before); confirmed, it takes effect at once")
    func reinstatementByHer() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id, a) = try await executed(registry)
            await expectError("too_early") {
                _ = try await registry.cases.fileReinstatement(bannedCase: id, statement: "已改正", caller: h.worker, logger: testLogger)
            }
            let years = registry.policies.revocation.reinstatementAfterYears
            try await registry.database.query(
                "UPDATE cases SET executed_at = now() - \(Double(years)) * interval '1 year' - interval '1 day' WHERE id = \(id)",
                logger: testLogger
            )
            let back = try await registry.cases.fileReinstatement(bannedCase: id, statement: "三年来无不良记录", caller: h.worker, logger: testLogger)
            await expectError("reinstatement_open") {
                _ = try await registry.cases.fileReinstatement(bannedCase: id, statement: "再次", caller: h.worker, logger: testLogger)
            }
            _ = try await registry.cases.act(back, cmd("start_review"), caller: a[2], logger: testLogger)
            _ = try await registry.cases.act(back, cmd("propose_decision", outcome: "upheld"), caller: a[2], logger: testLogger)
            let done = try await registry.cases.act(back, cmd("confirm_decision"), caller: a[3], logger: testLogger)
            #expect(done.state == "executed")
            #expect(try await registry.workerStatus(h.workerID) == "active")
            #expect(try await registry.notificationCount("case_reinstated") == 1)
            #expect(try await registry.notificationCount("case_decision_notice") == 1)  // only the ban's own
        }
    }

    @Test("recusal: an administrator's declared tie bars her from the case, and the case page lists who is excluded and why")
    func recusal() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id) = try await registry.filedCase()
            let a = try await registry.admins(3)
            let tie = try await registry.cases.declareTie(
                .init(workerId: h.workerID.uuid, description: "她是我表妹"),
                caller: a[0],
                logger: testLogger
            )
            await expectError("conflict_of_interest") { _ = try await registry.cases.act(id, cmd("start_review"), caller: a[0], logger: testLogger) }
            await expectError("conflict_of_interest") { try await registry.cases.suspend(id, reason: "暂停", caller: a[0], logger: testLogger) }
            // A tie to an agency that held her bars as well.
            _ = try await registry.cases.declareTie(.init(agencyId: h.agencyID.uuid, description: "我曾在该机构任职"), caller: a[1], logger: testLogger)
            await expectError("conflict_of_interest") { _ = try await registry.cases.act(id, cmd("start_review"), caller: a[1], logger: testLogger) }
            let view = try await registry.cases.act(id, cmd("start_review"), caller: a[2], logger: testLogger)
            let excluded = try #require(view.excluded)
            #expect(excluded.contains { $0.fromEveryStep && $0.reasons.contains("declared a tie: 她是我表妹") })
            #expect(excluded.contains { $0.reasons.contains("declared a tie: 我曾在该机构任职") })
            #expect(try await registry.cases.get(id, caller: h.worker, logger: testLogger).excluded == nil)
            // An ended tie no longer bars; the record stays.
            try await registry.cases.endTie(tie, reason: "误报", caller: a[0], logger: testLogger)
            _ = try await registry.cases.act(id, cmd("request_information", "请补充"), caller: a[0], logger: testLogger)
            #expect(try await registry.cases.ties(caller: a[0], logger: testLogger).count == 2)
            #expect(try await registry.auditCount("admin.tie_declared") == 2)
            #expect(try await registry.auditCount("admin.tie_ended") == 1)
            await expectError("missing_field") {
                _ = try await registry.cases.declareTie(.init(description: "无对象"), caller: a[0], logger: testLogger)
            }
        }
    }

    @Test(
        "a worker without an account: an administrator records her objection in person; a letter needs its scan; her agency objects with her consent"
    )
    func onHerBehalf() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id, a, _) = try await decided(registry)
            // In person: recorded as hers, with who entered it.
            await expectError("missing_field") { _ = try await registry.cases.act(id, cmd("object", "她来窗口说明"), caller: a[2], logger: testLogger) }
            await expectError("missing_field") {
                _ = try await registry.cases.act(id, cmd("object", "她写了信", channel: "letter"), caller: a[2], logger: testLogger)
            }
            let letter = try await registry.cases.addEvidence(
                id,
                filename: "信件扫描.pdf",
                contentType: "application/pdf",
                bytes: pdfBytes + [0x31],
                description: "她的亲笔信",
                party: "worker",
                caller: a[2],
                logger: testLogger
            )
            #expect(letter.party == "worker")
            let view = try await registry.cases.act(
                id,
                cmd("object", "她写了信", channel: "letter", evidence: letter.id),
                caller: a[2],
                logger: testLogger
            )
            #expect(view.state == "objection_review")
            #expect(view.objection?.channel == "letter" && view.objection?.enteredBy == a[2].principal.userID?.text)
            #expect(view.objection?.enteredByName?.isEmpty == false)
            #expect(try await registry.auditCount("case.object") == 1)
            // Her view says it is hers, without the name of who typed it.
            let hers = try await registry.cases.get(id, caller: h.worker, logger: testLogger)
            #expect(hers.objection?.channel == "letter" && hers.objection?.enteredBy == nil && hers.objection?.enteredByName == nil)
            // The administrator who entered it takes no part in the appeal later; another reviews the objection.
            _ = try await registry.cases.act(id, cmd("uphold_objection", "成立"), caller: a[3], logger: testLogger)
            #expect(try await registry.caseState(id) == "closed")
            #expect(try await registry.notificationCount("case_closed") == 1)
        }
    }

    @Test("her agency objects for her only with her signed consent filed as evidence")
    func agencyWithConsent() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id, _, _) = try await decided(registry)
            let agencyView = try await registry.cases.get(id, caller: h.agency, logger: testLogger)
            #expect(agencyView.viewer == "custodian" && agencyView.allowed == ["object"] && agencyView.evidence == nil)
            await expectError("missing_field") { _ = try await registry.cases.act(id, cmd("object", "代她提出"), caller: h.agency, logger: testLogger) }
            // The household's own file is no consent of hers.
            let theirs = try await registry.cases.addEvidence(
                id,
                filename: "监控.pdf",
                contentType: "application/pdf",
                bytes: pdfBytes + [0x32],
                description: nil,
                caller: h.employer,
                logger: testLogger
            )
            await expectError("missing_field") {
                _ = try await registry.cases.act(id, cmd("object", "代她提出", evidence: theirs.id), caller: h.agency, logger: testLogger)
            }
            let consent = try await registry.cases.addEvidence(
                id,
                filename: "同意书.jpg",
                contentType: "image/jpeg",
                bytes: jpegBytes,
                description: nil,
                caller: h.agency,
                logger: testLogger
            )
            #expect(consent.party == "worker")
            let view = try await registry.cases.act(id, cmd("object", "代她提出", evidence: consent.id), caller: h.agency, logger: testLogger)
            #expect(view.viewer == "custodian" && view.objection?.channel == "agency" && view.statement == nil)
        }
    }

    @Test("each caller's answer is her own view: the worker never gets the administrators' view, and nobody is offered finalize")
    func viewsPerRole() async throws {
        try await withTestRegistry { registry, _ in
            let (h, id) = try await registry.filedCase()
            let a = try await registry.admins(2)
            _ = try await registry.cases.act(id, cmd("start_review"), caller: a[0], logger: testLogger)
            let proposed = try await registry.cases.act(id, cmd("propose_decision", outcome: "upheld"), caller: a[0], logger: testLogger)
            #expect(proposed.viewer == "administrator" && proposed.proposedOutcome == "upheld")
            #expect(!proposed.allowed.contains("confirm_decision"))  // four eyes: not offered to the proposer
            let withdrawnView = try await registry.cases.get(id, caller: h.employer, logger: testLogger)
            #expect(withdrawnView.viewer == "requester" && withdrawnView.proposedOutcome == nil && withdrawnView.allowed == ["withdraw"])
            let decided = try await registry.cases.act(id, cmd("confirm_decision"), caller: a[1], logger: testLogger)
            // In the window an administrator may only record her objection for her; never finalize.
            #expect(decided.allowed == ["object"])
            let objected = try await registry.cases.act(id, cmd("object", "我反对"), caller: h.worker, logger: testLogger)
            #expect(objected.viewer == "worker" && objected.proposedOutcome == nil && objected.excluded == nil)
            #expect(objected.allowed.isEmpty)
        }
    }

    @Test("a system case closes, her suspension lifts and she is told, in the transaction that retracts its flag")
    func retractedFlagClosesCase() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let idNumber = Fixtures.idNumber(serial: 310)
            let w = try await registry.workers.register(Fixtures.registration(idNumber), caller: agency, logger: testLogger)
            let (sourceID, _, _, police) = try await registry.source("police-r", kind: "police")
            _ = try await registry.flags.submit(
                [flag(idNumber, "R-1", "child_or_elder_abuse", status: "charged")],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            let caseID = try #require(try await registry.cases.recent(aboutWorker: w, logger: testLogger).first)
            #expect(try await registry.caseState(caseID) == "submitted")
            #expect(try await registry.workerStatus(w) == "suspended")
            _ = try await registry.flags.change(
                sourceID: sourceID,
                reference: "R-1",
                .init(status: "retracted", severity: nil, expiresOn: nil),
                caller: police,
                logger: testLogger
            )
            #expect(try await registry.caseState(caseID) == "closed")
            #expect(try await registry.workerStatus(w) == "active")
            #expect(try await registry.notificationCount("case_closed") == 1)
            #expect(try await registry.auditCount("case.retract_grounds") == 1)
            #expect(try await registry.cases.queue(logger: testLogger).isEmpty)
        }
    }

    @Test(
        "interim suspension over HTTP: an administrator suspends with a reason and lifts it; a bad body changes nothing; a tied administrator is refused"
    )
    func suspensionOverHTTP() async throws {
        try await withTestApp { registry, _, client in
            let (h, id) = try await registry.filedCase()
            func bearer(_ email: String) async throws -> HTTPFields {
                _ = try await registry.makeUser(role: .admin, email: email, password: "admin password")
                let login = try await client.execute(
                    uri: "/api/v1/auth/login",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: TestJSON.body(["email": email, "password": "admin password"])
                )
                return [.authorization: "Bearer \(TestJSON.object(login.body)["token"] as? String ?? "")", .contentType: "application/json"]
            }
            let admin = try await bearer("susp-a@example.cn")
            let empty = try await client.execute(uri: "/api/v1/cases/\(id)/suspension", method: .post, headers: admin, body: TestJSON.body([:]))
            #expect(empty.status == .badRequest)
            #expect(try await registry.workerStatus(h.workerID) == "active")
            let suspended = try await client.execute(
                uri: "/api/v1/cases/\(id)/suspension",
                method: .post,
                headers: admin,
                body: TestJSON.body(["reason": "调查期间暂停派单"])
            )
            #expect(suspended.status == .noContent)
            #expect(try await registry.workerStatus(h.workerID) == "suspended")
            let again = try await client.execute(
                uri: "/api/v1/cases/\(id)/suspension",
                method: .post,
                headers: admin,
                body: TestJSON.body(["reason": "再次"])
            )
            #expect(again.status == .conflict && TestJSON.errorCode(again.body) == "already_suspended")
            let view = try await client.execute(uri: "/api/v1/cases/\(id)", method: .get, headers: admin)
            #expect(TestJSON.object(view.body)["suspended"] as? Bool == true)
            // A tied administrator may not lift it.
            let tied = try await bearer("susp-b@example.cn")
            let declared = try await client.execute(
                uri: "/api/v1/admin/ties",
                method: .post,
                headers: tied,
                body: TestJSON.body(["worker_id": h.workerID.text, "description": "她曾在我家做保姆"])
            )
            #expect(declared.status == .created)
            let refused = try await client.execute(
                uri: "/api/v1/cases/\(id)/suspension/lift",
                method: .post,
                headers: tied,
                body: TestJSON.body(["reason": "解除"])
            )
            #expect(refused.status == .forbidden && TestJSON.errorCode(refused.body) == "conflict_of_interest")
            #expect(try await registry.workerStatus(h.workerID) == "suspended")
            let lifted = try await client.execute(
                uri: "/api/v1/cases/\(id)/suspension/lift",
                method: .post,
                headers: admin,
                body: TestJSON.body(["reason": "查无实据"])
            )
            #expect(lifted.status == .noContent)
            #expect(try await registry.workerStatus(h.workerID) == "active")
            #expect(try await registry.auditCount("worker.suspension_lifted", subject: h.workerID.uuid) == 1)
            let timeline = try await registry.cases.get(id, caller: h.worker, logger: testLogger).timeline ?? []
            #expect(timeline.map(\.command).contains("suspend") && timeline.map(\.command).contains("lift_suspension"))
        }
    }

    @Test("an administrator's read of her whole file needs a purpose, and each is an inquiry she sees; finding her echoes no ID number")
    func adminReads() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            await expectError("purpose_required") { _ = try await registry.reports.report(h.workerID, caller: admin, logger: testLogger) }
            await expectError("purpose_required") {
                _ = try await registry.grading.computation(h.workerID, purpose: nil, caller: admin, logger: testLogger)
            }
            await expectError("purpose_required") { _ = try await registry.workers.file(h.workerID, caller: admin, logger: testLogger) }
            await expectError("invalid_field") {
                _ = try await registry.workers.file(h.workerID, purpose: "curious", caller: admin, logger: testLogger)
            }
            _ = try await registry.reports.report(h.workerID, purpose: "case", caller: admin, logger: testLogger)
            _ = try await registry.grading.computation(h.workerID, purpose: "dispute", caller: admin, logger: testLogger)
            _ = try await registry.workers.file(h.workerID, purpose: "audit", caller: admin, logger: testLogger)
            let looked = try await registry.reports.inquiries(caller: h.worker, logger: testLogger)
            #expect(Set(looked.filter { $0.viewerRole == "admin" }.map(\.purpose)) == ["case", "dispute", "audit"])
            #expect(try await registry.auditCount("grade.inspected") == 1)
            #expect(try await registry.auditCount("worker.file_read") == 1)
            // Her agency and she herself read without a purpose, as before.
            _ = try await registry.workers.file(h.workerID, caller: h.agency, logger: testLogger)
            // Found by name, by ID number and by a case's reference; the number is never in the answer.
            let idNumber = Fixtures.idNumber(serial: 101)
            let byID = try await registry.workers.find(.init(idNumber: idNumber), caller: admin, logger: testLogger)
            #expect(byID.map(\.id) == [h.workerID.text])
            #expect(!byID.map { "\($0)" }.joined().contains(idNumber) && byID.first?.idNumberMasked.contains("*") == true)
            #expect(try await registry.workers.find(.init(name: "秀英"), caller: admin, logger: testLogger).map(\.id) == [h.workerID.text])
            _ = try await registry.engagement(h, confirmedBy: h.employer)
            let caseID = try await registry.cases.file(
                .init(workerId: h.workerID.uuid, grounds: "theft", statement: "首饰丢失"),
                caller: h.employer,
                logger: testLogger
            )
            #expect(try await registry.workers.find(.init(reference: caseID.text), caller: admin, logger: testLogger).map(\.id) == [h.workerID.text])
            await expectError("missing_field") { _ = try await registry.workers.find(.init(), caller: admin, logger: testLogger) }
            await expectError("forbidden") { _ = try await registry.workers.find(.init(name: "李"), caller: h.agency, logger: testLogger) }
        }
    }
}
