import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@testable import RegistryHTTP

/// The pages of tenure disputes and credit repair over the real HTTP stack: the worker disputes
/// and applies from her own pages, the agency answers, administrators decide in the dispute
/// queue and the repair queue; what each decision changes shows on the pages.
@Suite("Web pages: tenure disputes and credit repair")
struct PagesRepairTests {
    @Test("a tenure dispute: raised on her page, answered by the agency, in the admin dispute queue, upheld — struck through with the reason")
    func tenureDisputeJourney() async throws {
        try await withTestApp { registry, _, client in
            // setup
            let (h, _, tenure) = try await registry.movedWorker(rating: 1)
            _ = try await registry.makeUser(role: .admin, email: "due-admin@example.cn", password: "admin password!")
            var worker = PageClient(client: client)
            var agency = PageClient(client: client)
            var admin = PageClient(client: client)
            _ = try await worker.signIn(email: "13800138001", password: "worker password")
            _ = try await agency.signIn(email: "staff1@agency.cn", password: "agency password 1")
            _ = try await admin.signIn(email: "due-admin@example.cn", password: "admin password!")

            // act: her page offers the dispute of the sealed tenure; an empty reason is refused inline
            let page = String(buffer: try await worker.get("/worker/tenures").body)
            #expect(page.contains("action=\"/worker/tenures/\(tenure.text)/dispute\""))
            let empty = try await worker.post("/worker/tenures/\(tenure.text)/dispute", ["reason": " "])
            #expect(empty.status == .badRequest)
            #expect(String(buffer: empty.body).contains("id=\"tenure-dispute-\(tenure.text)-error\""))
            let sent = try await worker.post("/worker/tenures/\(tenure.text)/dispute", ["reason": "评分与事实不符"])
            #expect(sent.status == .seeOther && sent.headers[.location] == "/worker/tenures?notice=tenure_disputed")
            let id = try #require(try await registry.tenureDisputes.own(caller: h.worker, logger: testLogger).first?.id)

            // the agency answers once
            let agencyPage = String(buffer: try await agency.get("/agency/tenure-disputes").body)
            #expect(agencyPage.contains("评分与事实不符"))
            let answered = try await agency.post("/agency/tenure-disputes/\(id)/answer", ["statement": "考勤记录为证"])
            #expect(answered.status == .seeOther)
            #expect(!String(buffer: try await agency.get("/agency/tenure-disputes").body).contains("action=\"/agency/tenure-disputes/\(id)/answer\""))

            // the administrators' one queue lists it; its page shows the agency's answer; upheld
            let queue = String(buffer: try await admin.get("/admin/disputes").body)
            #expect(queue.contains("href=\"/admin/disputes/\(id)\""))
            let detail = String(buffer: try await admin.get("/admin/disputes/\(id)").body)
            #expect(detail.contains("考勤记录为证") && detail.contains("评分与事实不符"))
            let noNote = try await admin.post("/admin/disputes/\(id)/decision", ["decision": "uphold", "note": ""])
            #expect(noNote.status == .badRequest)
            #expect(try await registry.annotationCount(tenure) == 0)
            let upheld = try await admin.post("/admin/disputes/\(id)/decision", ["decision": "uphold", "note": "与雇主评价矛盾"])
            #expect(upheld.status == .seeOther)

            // verify: struck through with the reason on her page; the form is gone
            let after = String(buffer: try await worker.get("/worker/tenures").body)
            #expect(after.contains("<del>"))
            #expect(after.contains("与雇主评价矛盾"))
            #expect(!after.contains("action=\"/worker/tenures/\(tenure.text)/dispute\""))
            #expect(!String(buffer: try await admin.get("/admin/disputes").body).contains("href=\"/admin/disputes/\(id)\""))
            // The report on her page (the employers' report template) and the file administrators read: struck through, with the reason.
            for html in [
                String(buffer: try await worker.get("/worker").body),
                String(buffer: try await admin.get("/admin/workers/\(h.workerID.text)?purpose=dispute").body),
            ] {
                #expect(html.contains("class=\"callout overturned\""))
                #expect(html.contains("<del>1 分（差）</del>"), "the rating struck through")
                #expect(html.contains("与雇主评价矛盾"))
            }
        }
    }

    @Test("credit repair: applied for on proof with a PDF from her page, approved from the repair queue, then 'repaired on' on her pages")
    func repairJourney() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let flagID = try await registry.policeFlag("PG-1", "child_or_elder_abuse", occurred: "2019-03-01")
            _ = try await registry.makeUser(role: .admin, email: "due-admin@example.cn", password: "admin password!")
            var worker = PageClient(client: client)
            var admin = PageClient(client: client)
            _ = try await worker.signIn(email: "13800138001", password: "worker password")
            _ = try await admin.signIn(email: "due-admin@example.cn", password: "admin password!")

            let page = String(buffer: try await worker.get("/worker/repairs").body)
            #expect(page.contains("action=\"/worker/flags/\(flagID.text)/repair\""))
            #expect(page.contains("enctype=\"multipart/form-data\""))
            // By period: refused inline, naming why (no period for abuse).
            let byPeriod = try await worker.postMultipart("/worker/flags/\(flagID.text)/repair", ["basis": "period"], files: [])
            #expect(byPeriod.status == .unprocessableContent)
            #expect(String(buffer: byPeriod.body).contains("id=\"repair-\(flagID.text)-error\""))
            // On proof, without a file: refused, nothing stored.
            let noFile = try await worker.postMultipart("/worker/flags/\(flagID.text)/repair", ["basis": "proof", "statement": "已完成培训"], files: [])
            #expect(noFile.status == .badRequest)
            #expect(try await registry.repairs.own(caller: h.worker, logger: testLogger).isEmpty)
            let applied = try await worker.postMultipart(
                "/worker/flags/\(flagID.text)/repair",
                ["basis": "proof", "statement": "已完成儿童照护培训"],
                files: [("proof", "证书.pdf", "application/pdf", pdfBytes)]
            )
            #expect(applied.status == .seeOther && applied.headers[.location] == "/worker/repairs?notice=repair_applied")
            let id = try #require(try await registry.repairs.own(caller: h.worker, logger: testLogger).first?.id)

            let queue = String(buffer: try await admin.get("/admin/repairs").body)
            #expect(queue.contains("href=\"/admin/repairs/\(id)\""))
            let detail = String(buffer: try await admin.get("/admin/repairs/\(id)").body)
            #expect(detail.contains("已完成儿童照护培训") && detail.contains("/api/v1/repair-proofs/"))
            let approved = try await admin.post("/admin/repairs/\(id)/decision", ["decision": "approve", "reason": "培训证书真实"])
            #expect(approved.status == .seeOther && approved.headers[.location] == "/admin/repairs?notice=repair_approved")

            let today = registry.clock.today.iso
            let repairs = String(buffer: try await worker.get("/worker/repairs").body)
            #expect(repairs.contains("id=\"repaired-\(flagID.text)\""))
            #expect(repairs.contains(today))
            #expect(!repairs.contains("action=\"/worker/flags/\(flagID.text)/repair\""))
            let home = String(buffer: try await worker.get("/worker").body)
            #expect(home.contains("id=\"flag-repaired-\(flagID.text)\""))
            // Administrators keep seeing it, decided.
            #expect(String(buffer: try await admin.get("/admin/repairs").body).contains("培训证书真实"))
        }
    }
}
