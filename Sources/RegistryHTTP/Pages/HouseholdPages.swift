import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Workers' reviews of households as pages: the worker's (`/worker/households`: placements whose
/// household was flagged, waiting for her answer; ended engagements to review; what she wrote),
/// the household's (`/employer/household-reviews`: reply and dispute), an agency's view of a
/// household it places with, and the administrators' queue (`/admin/household-reviews`).
struct HouseholdPages {
    let kit: PageKit

    static let reviewFields = ["respect", "pay_on_time", "safety", "agreed_duties", "account", "complaint"]

    func register(on routes: ProtectedRouter) {
        routes.get("/worker/households", action: "household_reviews.write") { request, context in
            let page = kit.scope(request, context)
            return try await Self.workerPage(page, form: WebForm(), failed: nil, error: nil)
        }
        routes.post("/worker/households/{id}/review", action: "household_reviews.write") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            do {
                func score(_ name: String) throws -> Int {
                    guard let n = Int(form.text(name)), (1...5).contains(n) else { throw RegistryError.invalid(name, "Choose a score from 1 to 5.") }
                    return n
                }
                _ = try await page.registry.householdReviews.write(
                    engagement: id,
                    .init(
                        respect: try score("respect"),
                        payOnTime: try score("pay_on_time"),
                        safety: try score("safety"),
                        agreedDuties: try score("agreed_duties"),
                        account: form.optional("account"),
                        complaint: form.optional("complaint")
                    ),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect("/worker/households?notice=household_reviewed")
            } catch let error as RegistryError where error.kind == .badRequest || error.kind == .conflict {
                return try await Self.workerPage(page, form: form, failed: id, error: error)
            }
        }
        routes.post("/worker/households/{id}/answer", action: "engagements.answer") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let accept = form.text("answer") == "accept"
            _ = try await page.registry.engagements.answerWarning(
                try context.parameters.uuid("id"),
                accept: accept,
                caller: page.caller,
                logger: context.logger
            )
            return page.redirect("/worker/households?notice=\(accept ? "placement_accepted" : "placement_declined")")
        }

        routes.get("/employer/household-reviews", action: "household_reviews.answer") { request, context in
            let page = kit.scope(request, context)
            return try await Self.householdPage(page, form: WebForm(), failed: nil, error: nil)
        }
        for (action, notice) in [("reply", "household_replied"), ("dispute", "household_disputed")] {
            routes.post("/employer/household-reviews/{id}/\(action)", action: "household_reviews.answer") { request, context in
                let page = kit.scope(request, context)
                let form = try await page.form()
                let id = try context.parameters.uuid("id")
                do {
                    if action == "reply" {
                        _ = try await page.registry.householdReviews.reply(id, text: form.text("text"), caller: page.caller, logger: context.logger)
                    } else {
                        _ = try await page.registry.householdReviews.dispute(
                            id,
                            reason: form.text("text"),
                            caller: page.caller,
                            logger: context.logger
                        )
                    }
                    return page.redirect("/employer/household-reviews?notice=\(notice)")
                } catch let error as RegistryError where error.kind == .badRequest || error.kind == .conflict {
                    return try await Self.householdPage(page, form: form, failed: id, error: error)
                }
            }
        }

        routes.get("/agency/households/{id}/reviews", action: "household_reviews.read") { request, context in
            let page = kit.scope(request, context)
            let file = try await page.registry.householdReviews.household(
                try context.parameters.uuid("id"),
                caller: page.caller,
                logger: context.logger
            )
            return page.render(
                "household_reviews",
                [
                    "mode_agency": true, "flagged": file.flagged, "substantiated": file.substantiatedComplaints,
                    "reviews": file.reviews.map { Self.item($0, page: page) },
                ]
            )
        }

        routes.get("/admin/household-reviews", action: "household_reviews.decide") { request, context in
            let page = kit.scope(request, context)
            return try await Self.adminPage(page, form: WebForm(), failed: nil, error: nil)
        }
        routes.post("/admin/household-reviews/{id}/decision", action: "household_reviews.decide") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            do {
                _ = try await page.registry.householdReviews.decide(
                    id,
                    decision: form.text("decision"),
                    note: form.text("note"),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect("/admin/household-reviews?notice=household_review_decided")
            } catch let error as RegistryError where error.kind == .badRequest || error.kind == .conflict {
                return try await Self.adminPage(page, form: form, failed: id, error: error)
            }
        }
    }

    static func item(_ r: HouseholdReviewService.Review, page: PageScope) -> [String: Any] {
        var v: [String: Any] = [
            "id": r.id.text, "engagement_id": r.engagementId.text, "worker_name": r.workerName, "household_name": r.householdName,
            "created_at": PageScope.dateTime(r.createdAt), "hidden": r.hidden,
            "scores": HouseholdPolicy.dimensions.map { ["label": page.t.text("households.dim_\($0)"), "value": r.scores[$0] ?? 0] as [String: Any] },
            "can_reply": r.reply == nil && !r.hidden, "can_dispute": r.disputeReason == nil && r.decidedAt == nil && !r.hidden,
        ]
        v["account"] = r.account
        v["complaint"] = r.complaint.map { page.t.text("households.complaint_\($0)") }
        v["complaint_status"] = r.complaintStatus.map { page.t.text("households.status_\($0)") }
        v["reply"] = r.reply
        v["dispute_reason"] = r.disputeReason
        v["decision"] = r.decision.map { page.t.text("households.decision_\($0)") }
        v["decision_note"] = r.decisionNote
        return v
    }

    static func failure(_ v: inout [String: Any], id: String, failed: UUID?, error: RegistryError?, form: WebForm, page: PageScope) {
        guard let failed, let error, failed.text == id else { return }
        v["error"] = page.message(for: error)
        v["typed"] = form.text("text").isEmpty ? form.text("note") : form.text("text")
    }

    static func workerPage(_ page: PageScope, form: WebForm, failed: UUID?, error: RegistryError?) async throws -> Response {
        let engagements = try await page.registry.engagements.list(caller: page.caller, logger: page.context.logger)
        let written = try await page.registry.householdReviews.own(caller: page.caller, logger: page.context.logger)
        let complaints = page.registry.policies.households.complaints
        var values: [String: Any] = [:]
        values["waiting"] = engagements.filter { $0.status == "proposed" && $0.householdWarning && !$0.workerAccepted }.map {
            ["id": $0.id.text, "household": $0.employerName, "category": page.label("category", $0.category), "starts_on": $0.startsOn]
        }
        values["has_waiting"] = !((values["waiting"] as? [Any])?.isEmpty ?? true)
        values["to_review"] = engagements.filter { $0.status == "ended" && $0.householdReviewID == nil }.map { e -> [String: Any] in
            var v: [String: Any] = [
                "id": e.id.text, "household": e.employerName, "category": page.label("category", e.category), "starts_on": e.startsOn,
                "ends_on": e.endsOn ?? "",
                "dimensions": HouseholdPolicy.dimensions.map { d in
                    [
                        "name": d, "label": page.t.text("households.dim_\(d)"),
                        "choices": (1...5).map { ["value": $0, "checked": form.text(d) == String($0) && failed == e.id] as [String: Any] },
                    ] as [String: Any]
                },
                "complaints": complaints.map {
                    ["value": $0, "label": page.t.text("households.complaint_\($0)"), "selected": failed == e.id && form.text("complaint") == $0]
                        as [String: Any]
                },
            ]
            if failed == e.id, let error {
                v["error"] = page.message(for: error)
                v["account"] = form.text("account")
            }
            return v
        }
        values["written"] = written.map { item($0, page: page) }
        if failed != nil, let error { values["form_error"] = ["message": page.message(for: error)] }
        return page.render("worker_households", values, status: error?.kind.status ?? .ok)
    }

    static func householdPage(_ page: PageScope, form: WebForm, failed: UUID?, error: RegistryError?) async throws -> Response {
        guard let me = page.caller.userUUID else { throw RegistryError.forbidden }
        let file = try await page.registry.householdReviews.household(me, caller: page.caller, logger: page.context.logger)
        var values: [String: Any] = ["mode_household": true, "flagged": file.flagged, "substantiated": file.substantiatedComplaints]
        values["reviews"] = file.reviews.map { r -> [String: Any] in
            var v = item(r, page: page)
            failure(&v, id: r.id.text, failed: failed, error: error, form: form, page: page)
            return v
        }
        if failed != nil, let error { values["form_error"] = ["message": page.message(for: error)] }
        return page.render("household_reviews", values, status: error?.kind.status ?? .ok)
    }

    static func adminPage(_ page: PageScope, form: WebForm, failed: UUID?, error: RegistryError?) async throws -> Response {
        let queue = try await page.registry.householdReviews.queue(caller: page.caller, logger: page.context.logger)
        var values: [String: Any] = ["mode_admin": true]
        values["reviews"] = queue.map { r -> [String: Any] in
            var v = item(r, page: page)
            v["decisions"] = (r.complaint == nil ? ["hide", "keep"] : ["substantiate", "dismiss", "hide"]).map {
                ["value": $0, "label": page.t.text("households.decide_\($0)")]
            }
            failure(&v, id: r.id.text, failed: failed, error: error, form: form, page: page)
            return v
        }
        if failed != nil, let error { values["form_error"] = ["message": page.message(for: error)] }
        return page.render("household_reviews", values, status: error?.kind.status ?? .ok)
    }
}
