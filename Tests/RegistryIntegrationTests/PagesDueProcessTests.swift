import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// The due-process pages over the real HTTP stack: the agency files a case from her file, the
/// administrators' ties and worker search, a file opened with a purpose, and the case page's new
/// steps (an objection entered for her, the appeal, answers to the other side's files).
@Suite("Web pages: due process")
struct PagesDueProcessTests {
    @Test("the agency in custody files a case from her file page, with evidence")
    func agencyFiles() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            var agency = PageClient(client: client)
            _ = try await agency.signIn(email: "staff1@agency.cn", password: "agency password 1")
            let file = String(buffer: try await agency.get("/agency/workers/\(h.workerID.text)").body)
            #expect(file.contains("href=\"/agency/workers/\(h.workerID.text)/case/new\""))
            let form = String(buffer: try await agency.get("/agency/workers/\(h.workerID.text)/case/new").body)
            #expect(form.contains("action=\"/agency/workers/\(h.workerID.text)/case\""))
            let filed = try await agency.postMultipart(
                "/agency/workers/\(h.workerID.text)/case",
                ["grounds": "fraud", "statement": "她伪造了健康证。"],
                files: [("evidence", "证明.pdf", "application/pdf", PagesCaseTests.pdf)]
            )
            #expect(filed.status == .seeOther)
            let id = try #require(PagesCaseTests.caseID(filed.headers[.location]))
            let view = try await registry.cases.get(id, caller: h.agency, logger: testLogger)
            #expect(view.viewer == "requester" && view.evidence?.count == 1 && view.grounds == "fraud")
            // Her file lists it.
            #expect(String(buffer: try await agency.get("/agency/workers/\(h.workerID.text)").body).contains("href=\"/cases/\(id.text)\""))
        }
    }

    @Test("administrators declare a tie, find a worker by ID number (never echoed) and open her file only with a purpose")
    func tiesAndSearch() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            _ = try await registry.makeUser(role: .admin, email: "dp-a@example.cn", password: "admin password a")
            var a = PageClient(client: client)
            _ = try await a.signIn(email: "dp-a@example.cn", password: "admin password a")
            #expect(String(buffer: try await a.get("/admin/ties").body).contains("id=\"declare-tie\""))
            let bad = try await a.post("/admin/ties", ["target": "worker", "target_id": "not-an-id", "description": "表妹"])
            #expect(bad.status == .badRequest && String(buffer: bad.body).contains("id=\"target_id-error\""))
            let declared = try await a.post("/admin/ties", ["target": "worker", "target_id": h.workerID.text, "description": "她是我表妹"])
            #expect(declared.headers[.location] == "/admin/ties?notice=tie_declared")
            #expect(String(buffer: try await a.get("/admin/ties").body).contains("她是我表妹"))

            let idNumber = Fixtures.idNumber(serial: 101)
            let found = try await a.post("/admin/workers", ["id_number": idNumber, "name": "", "reference": ""])
            let html = String(buffer: found.body)
            #expect(found.status == .ok && html.contains("action=\"/admin/workers/\(h.workerID.text)\""))
            #expect(!html.contains(idNumber))
            let none = try await a.post("/admin/workers", ["id_number": "", "name": "", "reference": ""])
            #expect(none.status == .badRequest)

            let noPurpose = try await a.get("/admin/workers/\(h.workerID.text)")
            #expect(noPurpose.status == .badRequest && String(buffer: noPurpose.body).contains("id=\"purpose-error\""))
            let before = try await registry.reports.inquiries(caller: h.worker, logger: testLogger).count
            let opened = try await a.get("/admin/workers/\(h.workerID.text)?purpose=dispute")
            #expect(opened.status == .ok && String(buffer: opened.body).contains("id=\"read-purpose\""))
            let after = try await registry.reports.inquiries(caller: h.worker, logger: testLogger)
            #expect(after.count == before + 1 && after.first?.purpose == "dispute")
            // The agency's file route sends an administrator to her own page, which asks the purpose.
            #expect(try await a.get("/agency/workers/\(h.workerID.text)").headers[.location] == "/admin/workers/\(h.workerID.text)")
        }
    }

    @Test("the case page: an objection recorded for her in person, the excluded administrators, her appeal after execution, answers")
    func casePage() async throws {
        try await withTestApp { registry, _, client in
            let h = try await PagesCaseTests.engaged(registry)
            let id = try await registry.cases.file(
                .init(workerId: h.workerID.uuid, grounds: "theft", statement: "丢失了首饰"),
                caller: h.employer,
                logger: testLogger
            )
            let receipt = try await registry.cases.addEvidence(
                id,
                filename: "发票.pdf",
                contentType: "application/pdf",
                bytes: PagesCaseTests.pdf,
                description: nil,
                caller: h.employer,
                logger: testLogger
            )
            let admins = try await registry.admins(2)
            let c = { (command: String, outcome: String?, admin: Int) in
                CaseService.Command(command: command, reason: "理由", outcome: outcome)
            }
            _ = try await registry.cases.act(id, c("start_review", nil, 0), caller: admins[0], logger: testLogger)
            _ = try await registry.cases.act(id, c("propose_decision", "upheld", 0), caller: admins[0], logger: testLogger)
            let decided = try await registry.cases.act(id, c("confirm_decision", nil, 1), caller: admins[1], logger: testLogger)
            let path = "/cases/\(id.text)"
            _ = try await registry.makeUser(role: .admin, email: "dp-c@example.cn", password: "admin password c")
            var a = PageClient(client: client)
            _ = try await a.signIn(email: "dp-c@example.cn", password: "admin password c")
            let page = String(buffer: try await a.get(path).body)
            #expect(page.contains("id=\"form-object\"") && page.contains("name=\"channel\"") && page.contains("id=\"case-window-rule\""))
            #expect(page.contains("id=\"case-excluded\""))  // the proposer and the confirmer stand aside from some steps
            let recorded = try await a.postMultipart(
                path + "/commands",
                ["command": "object", "reason": "她到窗口口头提出异议", "channel": "in_person"],
                files: []
            )
            #expect(recorded.status == .seeOther)
            let view = try await registry.cases.get(id, caller: h.worker, logger: testLogger)
            #expect(view.state == "objection_review" && view.objection?.channel == "in_person")

            // Her side answers the household's receipt from the case page.
            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: PagesEmployerTests.phone(1), password: PagesEmployerTests.workerPassword)
            let hers = String(buffer: try await worker.get(path).body)
            #expect(hers.contains("id=\"form-answer-\(receipt.id)\""))
            let answered = try await worker.post("\(path)/evidence/\(receipt.id)/answer", ["body": "这张发票不是那件首饰的"])
            #expect(answered.status == .seeOther)
            #expect(try await registry.cases.get(id, caller: h.employer, logger: testLogger).answers?[receipt.id]?.count == 1)

            // Reviewed and rejected, the window passes, she is barred: her page offers the appeal.
            _ = try await registry.cases.act(id, c("reject_objection", nil, 0), caller: try await registry.adminCaller, logger: testLogger)
            #expect(try await registry.cases.executeDue(now: try #require(decided.noticeEndsAt).addingTimeInterval(1), logger: testLogger) == 1)
            let barred = String(buffer: try await worker.get(path).body)
            #expect(barred.contains("id=\"form-appeal\"") && barred.contains("id=\"case-appeal-until\""))
            #expect(!barred.contains("id=\"form-reinstatement\""))  // her own application opens only years later
            let appealed = try await worker.post(path + "/commands", ["command": "appeal", "reason": "我有新的证人"])
            #expect(appealed.status == .seeOther)
            #expect(try await registry.caseState(id) == "appeal_review")
        }
    }
}
