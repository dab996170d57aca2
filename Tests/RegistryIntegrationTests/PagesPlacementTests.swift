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

/// The agency's placements and the buttons of a worker's file (her own account, a consent code
/// to her phone), and the worker's own answers: disputing a record or a review, consenting to or
/// refusing a transfer. Over the real HTTP stack, through the same services as the API.
@Suite("Web pages: placements and the worker's answers")
struct PagesPlacementTests {
    static func html(_ response: TestResponse) -> String { String(buffer: response.body) }

    static func count(_ registry: Registry, _ sql: String) async throws -> Int {
        for try await n in try await registry.database.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(Int.self) { return n }
        return 0
    }

    @Test(
        "an agency places a worker from her file (errors inline, typed values kept, CSRF checked); the household confirms; the agency ends it and cancels another"
    )
    func placeConfirmEnd() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let worker = h.workerID.text
            var agency = PageClient(client: client)
            _ = try await agency.signIn(email: "staff1@agency.cn", password: "agency password 1")
            let file = Self.html(try await agency.get("/agency/workers/\(worker)"))
            #expect(file.contains("href=\"/agency/workers/\(worker)/placements/new\""))
            let form = try await agency.get("/agency/workers/\(worker)/placements/new")
            #expect(form.status == .ok)
            let formHTML = Self.html(form)
            #expect(formHTML.contains("value=\"\(CivilDate.today().iso)\""))
            #expect(formHTML.contains("<option value=\"nanny\" selected>"))

            let path = "/agency/workers/\(worker)/placements"
            let fields = ["employer": "home@example.cn", "category": "nanny", "starts_on": CivilDate.today().iso]
            #expect(try await agency.post(path, fields, csrf: .none).status == .forbidden)
            let unknown = try await agency.post(path, fields.merging(["employer": "nobody <b>@example.cn"]) { $1 })
            #expect(unknown.status == .badRequest)
            #expect(Self.html(unknown).contains("id=\"employer-error\""))
            #expect(Self.html(unknown).contains("value=\"nobody &lt;b&gt;@example.cn\""))
            let unregistered = try await agency.post(path, fields.merging(["employer": "13900000000"]) { $1 })
            #expect(unregistered.status == .notFound)
            #expect(Self.html(unregistered).contains("没有用这个邮箱或手机号注册的雇主"))
            let badDate = try await agency.post(path, fields.merging(["starts_on": "2099-01-01"]) { $1 })
            #expect(badDate.status == .badRequest)
            #expect(Self.html(badDate).contains("id=\"starts_on-error\""))
            #expect(Self.html(badDate).contains("value=\"home@example.cn\""))
            #expect(try await registry.engagements.list(caller: h.agency, logger: testLogger).isEmpty)

            let placed = try await agency.post(path, fields)
            #expect(placed.headers[.location] == "/agency/placements?notice=placement_proposed")
            let second = try await agency.post(path, fields.merging(["category": "elder_care"]) { $1 })
            #expect(second.status == .seeOther)
            let engagements = try await registry.engagements.list(caller: h.agency, logger: testLogger)
            #expect(engagements.count == 2)
            let first = try #require(engagements.first { $0.category == "nanny" }).id.text
            let other = try #require(engagements.first { $0.category == "elder_care" }).id.text
            let list = Self.html(try await agency.get("/agency/placements?notice=placement_proposed"))
            #expect(list.contains("已提交派工"))
            #expect(list.contains("待雇主确认"))
            #expect(list.contains("action=\"/agency/placements/\(first)/cancel\""))
            #expect(!list.contains("action=\"/agency/placements/\(first)/end\""))

            var employer = PageClient(client: client)
            _ = try await employer.signIn(email: "home@example.cn", password: "employer password")
            let confirmed = try await employer.post("/employer/engagements/\(first)/confirm", [:])
            #expect(confirmed.headers[.location] == "/employer?notice=engagement_confirmed")

            // Confirmed meanwhile: cancelling is refused on the list, which shows it as it is now.
            let late = try await agency.post("/agency/placements/\(first)/cancel", [:])
            #expect(late.status == .conflict)
            #expect(Self.html(late).contains("action=\"/agency/placements/\(first)/end\""))
            #expect(try await agency.post("/agency/placements/\(first)/end", [:], csrf: .none).status == .forbidden)
            let ended = try await agency.post("/agency/placements/\(first)/end", [:])
            #expect(ended.headers[.location] == "/agency/placements?notice=placement_ended")
            let cancelled = try await agency.post("/agency/placements/\(other)/cancel", [:])
            #expect(cancelled.headers[.location] == "/agency/placements?notice=placement_cancelled")
            let statuses = try await registry.engagements.list(caller: h.agency, logger: testLogger).map(\.status).sorted()
            #expect(statuses == ["cancelled", "ended"])
            let after = Self.html(try await agency.get("/agency/placements"))
            #expect(after.contains("暂无。"))  // nothing open any more
            #expect(!after.contains("/cancel\"") && !after.contains("/end\""))

            // Another agency's staff sees none of it, and cannot act on it.
            let (_, _) = try await registry.approvedAgency(2)
            var stranger = PageClient(client: client)
            _ = try await stranger.signIn(email: "staff2@agency.cn", password: "agency password 2")
            #expect(!Self.html(try await stranger.get("/agency/placements")).contains(first))
            #expect(try await stranger.get("/agency/workers/\(worker)/placements/new").status == .notFound)
            #expect(try await stranger.post("/agency/placements/\(other)/end", [:]).status == .notFound)
            // An employer or a worker has no placements page.
            #expect(try await employer.get("/agency/placements").status == .forbidden)
        }
    }

    @Test("from her file the agency starts her own account and sends her a consent code; a phone-less worker gets neither button")
    func accountAndConsent() async throws {
        try await withTestApp { registry, _, client in
            let (_, staff) = try await registry.approvedAgency(1)
            let id = try await registry.workers.register(
                Fixtures.registration(Fixtures.idNumber(serial: 102), phone: "13800138009"),
                caller: staff,
                logger: testLogger
            )
            let noPhone = try await registry.workers.register(
                Fixtures.registration(Fixtures.idNumber(serial: 104), name: "王芳", phone: nil),
                caller: staff,
                logger: testLogger
            )
            var agency = PageClient(client: client)
            _ = try await agency.signIn(email: "staff1@agency.cn", password: "agency password 1")
            let path = "/agency/workers/\(id.text)"
            let file = Self.html(try await agency.get(path))
            #expect(file.contains("她还没有自己的账户。"))
            #expect(file.contains("action=\"\(path)/account\""))
            #expect(file.contains("action=\"\(path)/consents\""))

            #expect(try await agency.post(path + "/account", [:], csrf: .none).status == .forbidden)
            let started = try await agency.post(path + "/account", [:])
            #expect(started.headers[.location] == path + "?notice=account_started")
            #expect(try await registry.lastCode("worker_activation_code") != nil)
            let pending = Self.html(try await agency.get(path + "?notice=account_started"))
            #expect(pending.contains("已为她开通账户"))
            #expect(pending.contains("账户已开通，她还没有设置密码。"))
            #expect(pending.contains("重新发送激活码"))

            let sent = try await agency.post(path + "/consents", [:])
            #expect(sent.headers[.location] == path + "?notice=consent_sent")
            #expect(try await Self.count(registry, "SELECT count(*)::int FROM consents WHERE issued_via = 'agency'") == 1)
            #expect(try await Self.count(registry, "SELECT count(*)::int FROM notifications WHERE template = 'consent_code'") == 1)

            // Once she activated it, the file says so and offers no new code for it.
            let code = try #require(try await registry.lastCode("worker_activation_code"))
            try await registry.accounts.activateWorker(
                phone: "13800138009",
                code: code,
                password: "worker password",
                throttle: registry.policies.authentication,
                logger: testLogger
            )
            let active = Self.html(try await agency.get(path))
            #expect(active.contains("她在使用自己的账户。"))
            #expect(!active.contains("action=\"\(path)/account\""))
            let again = try await agency.post(path + "/account", [:])
            #expect(again.status == .conflict)
            #expect(Self.html(again).contains("她已经有正在使用的账户。"))

            let bare = Self.html(try await agency.get("/agency/workers/\(noPhone.text)"))
            #expect(bare.contains("档案中没有手机号码"))
            #expect(!bare.contains("/account\"") && !bare.contains("/consents\""))
            let refused = try await agency.post("/agency/workers/\(noPhone.text)/consents", [:])
            #expect(refused.status == .conflict)
            #expect(Self.html(refused).contains("class=\"error-summary\""))
        }
    }

    @Test("the worker reads her police and credit records in full and disputes one (reason required, kept inline); then disputes a review")
    func disputes() async throws {
        try await withTestApp { registry, _, client in
            let h = try await PagesCaseTests.engaged(registry)
            let engagement = try #require(try await registry.engagements.list(caller: h.employer, logger: testLogger).first)
            let review = try await registry.engagements.review(
                engagement: engagement.id,
                .init(
                    skillScores: ["quality": 2],
                    ethicsScores: ["honesty": 2, "respect": 2, "reliability": 2, "care": 2],
                    comment: "不满意"
                ),
                caller: h.employer,
                logger: testLogger
            )
            let (sourceID, _, _, bureau) = try await registry.source("bureau-pages", kind: "credit_bureau")
            let result = try await registry.flags.submit(
                [flag(Fixtures.idNumber(serial: 101), "CB-9", "debt_default", severity: 2, status: "adjudicated")],
                sourceID: sourceID,
                caller: bureau,
                logger: testLogger
            )
            let flagID = try #require(result.first?.flagId)

            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: "13800138001", password: "worker password")
            let home = Self.html(try await worker.get("/worker"))
            #expect(home.contains("id=\"flag-\(flagID)\""))
            #expect(home.contains("欠债不还"))
            #expect(home.contains("警情通报：内部叙述 CB-9"))  // her own record in full, narrative included
            #expect(home.contains("<dd>BUREAU-PAGES</dd>"))  // the source by its display name
            let path = "/worker/flags/\(flagID)/dispute"
            #expect(home.contains("action=\"\(path)\""))

            #expect(try await worker.post(path, ["reason": "已还清"], csrf: .none).status == .forbidden)
            let empty = try await worker.post(path, ["reason": "  "])
            #expect(empty.status == .badRequest)
            #expect(Self.html(empty).contains("id=\"flag-dispute-\(flagID)-error\""))
            #expect(Self.html(empty).contains("<details class=\"dispute\" open>"))
            let long = String(repeating: "还", count: 2001)
            let tooLong = try await worker.post(path, ["reason": long])
            #expect(tooLong.status == .badRequest)
            #expect(Self.html(tooLong).contains(">\(long)</textarea>"))
            #expect(try await registry.flags.disputes(openOnly: true, logger: testLogger).isEmpty)

            let disputed = try await worker.post(path, ["reason": "这笔欠款已于去年还清 <i>有凭证</i>"])
            #expect(disputed.headers[.location] == "/worker?notice=flag_disputed#flags")
            let open = try await registry.flags.disputes(openOnly: true, logger: testLogger)
            #expect(open.map(\.reason) == ["这笔欠款已于去年还清 <i>有凭证</i>"])
            let after = Self.html(try await worker.get("/worker?notice=flag_disputed"))
            #expect(after.contains("申诉已提交，管理员会审查这条记录。"))
            #expect(after.contains("我的申诉：</strong> 审查中"))
            #expect(!after.contains("action=\"\(path)\""))
            let twice = try await worker.post(path, ["reason": "再次申诉"])
            #expect(twice.status == .conflict)
            #expect(Self.html(twice).contains("已有一项相关申诉正在处理中。"))

            // The administrator's answer shows on her page.
            try await registry.flags.decideDispute(
                open[0].id,
                decision: "annotate",
                note: "已核实，备注还款情况",
                caller: try await registry.adminCaller,
                logger: testLogger
            )
            #expect(Self.html(try await worker.get("/worker")).contains("已处理：记录已添加说明 · "))

            // A review about her.
            let reviewPath = "/worker/reviews/\(review.text)/dispute"
            #expect(after.contains("action=\"\(reviewPath)\""))
            let blank = try await worker.post(reviewPath, ["reason": ""])
            #expect(blank.status == .badRequest)
            #expect(Self.html(blank).contains("id=\"review-dispute-\(review.text)-error\""))
            let sent = try await worker.post(reviewPath, ["reason": "那天我请了病假"])
            #expect(sent.headers[.location] == "/worker?notice=review_disputed#reviews")
            #expect(try await registry.engagements.openDisputes(logger: testLogger).map(\.reason) == ["那天我请了病假"])
            let shown = Self.html(try await worker.get("/worker"))
            #expect(!shown.contains("action=\"\(reviewPath)\""))

            worker.cookies["lang"] = "en"
            let english = Self.html(try await worker.get("/worker"))
            #expect(english.contains("Police and credit records"))
            #expect(english.contains("My dispute:</strong> being reviewed"))
            #expect(!english.contains("⟦"))
        }
    }

    @Test("a transfer waiting for her answer: she consents in her account (no code), or refuses another one with a reason")
    func transfers() async throws {
        try await withTestApp { registry, _, client in
            let h = try await Household.make(registry)
            let (_, second) = try await registry.approvedAgency(2, name: "金牌家政")
            let request = try await registry.transfers.request(idNumber: Fixtures.idNumber(serial: 101), caller: second, logger: testLogger)
            var worker = PageClient(client: client)
            _ = try await worker.signIn(email: "13800138001", password: "worker password")
            let home = Self.html(try await worker.get("/worker"))
            #expect(home.contains("金牌家政申请接续您目前由Agency 1管理的档案。您同意吗？"))
            let consent = "/worker/transfers/\(request.transfer.id)/consent"
            #expect(home.contains("action=\"\(consent)\""))
            #expect(try await worker.post(consent, [:], csrf: .none).status == .forbidden)
            let consented = try await worker.post(consent, [:])
            #expect(consented.headers[.location] == "/worker?notice=transfer_consented_own#transfers")
            let view = try await registry.transfers.get(UUID(uuidString: request.transfer.id)!, caller: second, logger: testLogger)
            #expect(view.status == "consented" && view.consentMethod == "account")
            let waiting = Self.html(try await worker.get("/worker"))
            #expect(waiting.contains("您已同意，等待Agency 1移交档案"))
            #expect(!waiting.contains("action=\"\(consent)\""))
            // Answering twice: refused next to the transfer, nothing changes.
            let twice = try await worker.post(consent, [:])
            #expect(twice.status == .conflict)
            #expect(Self.html(twice).contains("id=\"transfer-\(request.transfer.id)-error\""))

            // The second agency withdraws; a third asks, and she refuses with a reason.
            _ = try await registry.transfers.close(UUID(uuidString: request.transfer.id)!, .cancel, reason: nil, caller: second, logger: testLogger)
            let (_, third) = try await registry.approvedAgency(3)
            let another = try await registry.transfers.request(idNumber: Fixtures.idNumber(serial: 101), caller: third, logger: testLogger)
            let refuse = "/worker/transfers/\(another.transfer.id)/refuse"
            let tooLong = try await worker.post(refuse, ["reason": String(repeating: "不", count: 1001)])
            #expect(tooLong.status == .badRequest)
            #expect(Self.html(tooLong).contains("id=\"refuse-\(another.transfer.id)-error\""))
            let refused = try await worker.post(refuse, ["reason": "我想留在现在的机构"])
            #expect(refused.headers[.location] == "/worker?notice=transfer_refused_own#transfers")
            let closed = try await registry.transfers.get(UUID(uuidString: another.transfer.id)!, caller: third, logger: testLogger)
            #expect(closed.status == "rejected" && closed.closeReason == "我想留在现在的机构")
            #expect(!Self.html(try await worker.get("/worker")).contains("id=\"transfers\""))
            // Her file stays with her agency.
            #expect(try await registry.workers.file(h.workerID, caller: h.agency, logger: testLogger).currentAgency.id == h.agencyID.text)
        }
    }
}
