import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryHTTP
import RegistryServices
import RegistryStorage
import Testing

@Suite("Workers review households")
struct HouseholdReviewTests {
    /// An engagement of the household's worker with its employer, confirmed and ended today.
    static func ended(_ registry: Registry, _ h: Household) async throws -> UUID {
        let e = try await registry.engagements.place(
            .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
            caller: h.agency,
            logger: testLogger
        )
        _ = try await registry.engagements.transition(e, "confirm", caller: h.employer, logger: testLogger)
        _ = try await registry.engagements.transition(e, "end", caller: h.agency, logger: testLogger)
        return e
    }

    @Test(
        "she reviews the household once after the engagement ended, within the window; a complaint needs the account; the household replies and disputes; who sees it"
    )
    func writeReplyDisputeVisibility() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let other = try await Household.make(registry, n: 2, employerEmail: "other@example.cn")
            let reviews = registry.householdReviews
            let engagement = try await registry.engagements.place(
                .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                caller: h.agency,
                logger: testLogger
            )
            let scores = HouseholdReviewService.NewReview(respect: 2, payOnTime: 1, safety: 4, agreedDuties: 3)
            await expectError("not_ended") { _ = try await reviews.write(engagement: engagement, scores, caller: h.worker, logger: testLogger) }
            _ = try await registry.engagements.transition(engagement, "confirm", caller: h.employer, logger: testLogger)
            _ = try await registry.engagements.transition(engagement, "end", caller: h.employer, logger: testLogger)
            await expectError("not_found") { _ = try await reviews.write(engagement: engagement, scores, caller: other.worker, logger: testLogger) }
            await expectError("forbidden") { _ = try await reviews.write(engagement: engagement, scores, caller: h.employer, logger: testLogger) }
            var bad = scores
            bad.safety = 0
            await expectError("invalid_field") { _ = try await reviews.write(engagement: engagement, bad, caller: h.worker, logger: testLogger) }
            var complaint = scores
            complaint.complaint = "unpaid_wages"
            await expectError("missing_field") {
                _ = try await reviews.write(engagement: engagement, complaint, caller: h.worker, logger: testLogger)
            }
            complaint.complaint = "rudeness"
            complaint.account = "说话难听"
            await expectError("invalid_field") {
                _ = try await reviews.write(engagement: engagement, complaint, caller: h.worker, logger: testLogger)
            }

            complaint.complaint = "unpaid_wages"
            complaint.account = "最后两个月的工资没有结清。"
            let review = try await reviews.write(engagement: engagement, complaint, caller: h.worker, logger: testLogger)
            #expect(review.scores == ["respect": 2, "pay_on_time": 1, "safety": 4, "agreed_duties": 3] && review.complaintStatus == "open")
            await expectError("already_reviewed") {
                _ = try await reviews.write(engagement: engagement, scores, caller: h.worker, logger: testLogger)
            }
            #expect(try await reviews.own(caller: h.worker, logger: testLogger).map(\.id) == [review.id])

            // Who sees it: the household, administrators, an agency with a placement there now; nobody else.
            let employerID = h.employerID.uuid
            #expect(try await reviews.household(employerID, caller: h.employer, logger: testLogger).reviews.count == 1)
            #expect(try await reviews.household(employerID, caller: try await registry.adminCaller, logger: testLogger).reviews.count == 1)
            await expectError("not_found") { _ = try await reviews.household(employerID, caller: h.agency, logger: testLogger) }
            await expectError("not_found") { _ = try await reviews.household(employerID, caller: other.employer, logger: testLogger) }
            await expectError("not_found") { _ = try await reviews.household(employerID, caller: h.worker, logger: testLogger) }

            // The household replies once and disputes once.
            await expectError("not_found") { _ = try await reviews.reply(review.id, text: "不是我", caller: other.employer, logger: testLogger) }
            #expect(try await reviews.reply(review.id, text: "工资已经转账。", caller: h.employer, logger: testLogger).reply == "工资已经转账。")
            await expectError("already_replied") { _ = try await reviews.reply(review.id, text: "再说一次", caller: h.employer, logger: testLogger) }
            _ = try await reviews.dispute(review.id, reason: "我们按时付了工资。", caller: h.employer, logger: testLogger)
            await expectError("already_disputed") {
                _ = try await reviews.dispute(review.id, reason: "again", caller: h.employer, logger: testLogger)
            }

            // Past the window: too late.
            let late = try await Self.ended(registry, h)
            try await registry.database.query(
                "UPDATE engagements SET ends_on = current_date - 91, starts_on = current_date - 120 WHERE id = \(late)",
                logger: testLogger
            )
            await expectError("review_window_closed") { _ = try await reviews.write(engagement: late, scores, caller: h.worker, logger: testLogger) }
            #expect(try await registry.auditCount("household_review.written") == 1)
        }
    }

    @Test(
        "an administrator decides: a hidden review leaves the household's file; a substantiated complaint flags its next placement, which waits for the worker's acceptance; declining cancels it"
    )
    func decisionsAndWarning() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let admin = try await registry.adminCaller
            let reviews = registry.householdReviews
            let account = "最后两个月的工资没有结清。"
            let first = try await reviews.write(
                engagement: try await Self.ended(registry, h),
                .init(respect: 4, payOnTime: 4, safety: 4, agreedDuties: 4, account: "很好"),
                caller: h.worker,
                logger: testLogger
            )
            await expectError("nothing_to_decide") {
                _ = try await reviews.decide(first.id, decision: "keep", note: "无", caller: admin, logger: testLogger)
            }
            _ = try await reviews.dispute(first.id, reason: "她从没来过我家。", caller: h.employer, logger: testLogger)
            await expectError("invalid_field") {
                _ = try await reviews.decide(first.id, decision: "substantiate", note: "无投诉", caller: admin, logger: testLogger)
            }
            #expect(try await reviews.decide(first.id, decision: "hide", note: "合同显示未到岗", caller: admin, logger: testLogger).hidden)
            #expect(try await reviews.household(h.employerID.uuid, caller: h.employer, logger: testLogger).reviews.isEmpty)
            #expect(try await reviews.household(h.employerID.uuid, caller: admin, logger: testLogger).reviews.count == 1)

            let second = try await reviews.write(
                engagement: try await Self.ended(registry, h),
                .init(respect: 2, payOnTime: 1, safety: 3, agreedDuties: 3, account: account, complaint: "unpaid_wages"),
                caller: h.worker,
                logger: testLogger
            )
            #expect(try await reviews.queue(caller: admin, logger: testLogger).map(\.id) == [second.id])
            // Not yet substantiated: no warning on a new placement.
            let unflagged = try await registry.engagements.place(
                .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                caller: h.agency,
                logger: testLogger
            )
            #expect(try await registry.engagements.list(caller: h.agency, logger: testLogger).first { $0.id == unflagged }?.householdWarning == false)
            _ = try await registry.engagements.transition(unflagged, "cancel", caller: h.agency, logger: testLogger)

            _ = try await reviews.decide(second.id, decision: "substantiate", note: "银行流水显示未付", caller: admin, logger: testLogger)
            #expect(try await reviews.queue(caller: admin, logger: testLogger).isEmpty)
            let file = try await reviews.household(h.employerID.uuid, caller: admin, logger: testLogger)
            #expect(file.flagged && file.substantiatedComplaints == 1)

            // Flagged: she is texted, the household cannot confirm before she accepts; declining cancels.
            func place() async throws -> UUID {
                try await registry.engagements.place(
                    .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                    caller: h.agency,
                    logger: testLogger
                )
            }
            let declined = try await place()
            #expect(try await registry.notificationCount("household_warning") == 1)
            #expect(try await reviews.household(h.employerID.uuid, caller: h.agency, logger: testLogger).flagged)
            await expectError("worker_acceptance_required") {
                _ = try await registry.engagements.transition(declined, "confirm", caller: h.employer, logger: testLogger)
            }
            #expect(try await registry.engagements.answerWarning(declined, accept: false, caller: h.worker, logger: testLogger).status == "cancelled")
            let accepted = try await place()
            await expectError("forbidden") {
                _ = try await registry.engagements.answerWarning(accepted, accept: true, caller: h.employer, logger: testLogger)
            }
            #expect(try await registry.engagements.answerWarning(accepted, accept: true, caller: h.worker, logger: testLogger).workerAccepted)
            await expectError("nothing_to_answer") {
                _ = try await registry.engagements.answerWarning(accepted, accept: true, caller: h.worker, logger: testLogger)
            }
            #expect(try await registry.engagements.transition(accepted, "confirm", caller: h.employer, logger: testLogger).status == "confirmed")
        }
    }

    @Test(
        "on the pages: she reviews the household, the household replies, an administrator confirms the complaint, and the next placement waits for her to accept the warning"
    )
    func pages() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let engagement = try await Self.ended(registry, h)
            _ = try await registry.makeUser(role: .admin, email: "judge@example.cn", password: "admin password")
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                var worker = PageClient(client: client)
                _ = try await worker.signIn(email: "13800138001", password: "worker password")
                let form = String(buffer: try await worker.get("/worker/households").body)
                #expect(form.contains("/worker/households/\(engagement.text)/review"))
                let incomplete = try await worker.post(
                    "/worker/households/\(engagement.text)/review",
                    ["respect": "2", "pay_on_time": "1", "safety": "3", "agreed_duties": "", "account": "", "complaint": ""]
                )
                #expect(incomplete.status == .badRequest && String(buffer: incomplete.body).contains("id=\"error-\(engagement.text)\""))
                let sent = try await worker.post(
                    "/worker/households/\(engagement.text)/review",
                    ["respect": "2", "pay_on_time": "1", "safety": "3", "agreed_duties": "3", "account": "拖欠工资两个月", "complaint": "unpaid_wages"]
                )
                #expect(sent.status == .seeOther && sent.headers[.location] == "/worker/households?notice=household_reviewed")
                let review = try #require(try await registry.householdReviews.own(caller: h.worker, logger: testLogger).first)

                var household = PageClient(client: client)
                _ = try await household.signIn(email: "home@example.cn", password: "employer password")
                #expect(String(buffer: try await household.get("/employer/household-reviews").body).contains("拖欠工资两个月"))
                let replied = try await household.post("/employer/household-reviews/\(review.id.text)/reply", ["text": "工资已转账"])
                #expect(replied.status == .seeOther)

                var admin = PageClient(client: client)
                _ = try await admin.signIn(email: "judge@example.cn", password: "admin password")
                _ = try await admin.get("/admin/household-reviews")
                let noNote = try await admin.post("/admin/household-reviews/\(review.id.text)/decision", ["decision": "substantiate", "note": ""])
                #expect(noNote.status == .badRequest)
                let confirmed = try await admin.post(
                    "/admin/household-reviews/\(review.id.text)/decision",
                    ["decision": "substantiate", "note": "流水为证"]
                )
                #expect(confirmed.status == .seeOther)

                let flagged = try await registry.engagements.place(
                    .init(workerId: h.workerID.uuid, employerEmail: "home@example.cn", employerPhone: nil, category: "nanny", startsOn: "2026-01-01"),
                    caller: h.agency,
                    logger: testLogger
                )
                let warned = String(buffer: try await worker.get("/worker/households").body)
                #expect(warned.contains("id=\"warning-\(flagged.text)\""))
                let accepted = try await worker.post("/worker/households/\(flagged.text)/answer", ["answer": "accept"])
                #expect(accepted.headers[.location] == "/worker/households?notice=placement_accepted")
                #expect(try await registry.engagements.transition(flagged, "confirm", caller: h.employer, logger: testLogger).status == "confirmed")
            }
        }
    }
}
