import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Administrators answer workers' disputes: about a review (`/admin/disputes`: uphold hides it
/// with the note as the reason, reject leaves it shown) and about a police or credit record
/// (`/admin/flag-disputes`: annotate, ask the source to retract, or reject). The same service
/// methods as `/api/v1/disputes` and `/api/v1/flag-disputes` decide; a refused form is shown
/// again with the reason next to the note and what was typed.
struct DisputePages {
    let kit: PageKit

    static let reviewDecisions = ["uphold", "reject"]
    static let flagDecisions = ["annotate", "request_retraction", "reject"]
    /// The notice after each decision (by the decision's value).
    static let reviewNotices = ["uphold": "dispute_upheld", "reject": "dispute_rejected"]
    static let flagNotices = [
        "annotate": "flag_dispute_annotated", "request_retraction": "flag_dispute_retraction_requested",
        "reject": "flag_dispute_rejected",
    ]

    func register(on routes: ProtectedRouter) {
        // Reviews
        routes.get("/admin/disputes", action: "disputes.decide") { request, context in
            let page = kit.scope(request, context)
            let disputes = try await page.registry.engagements.openDisputes(logger: context.logger)
            // One queue: disputes of sealed tenure assessments beside those of reviews.
            let tenureDisputes = try await page.registry.tenureDisputes.open(logger: context.logger)
            return page.render(
                "admin_disputes",
                [
                    "tabs": Self.tabs(page, current: "reviews"),
                    "disputes": disputes.map { d -> [String: Any] in
                        ["id": d.id.text, "reason": d.reason, "raised_at": PageScope.dateTime(d.createdAt), "worker_id": d.workerID.text]
                    },
                    "tenure_disputes": tenureDisputes.map { RepairPages.tenureDisputeView($0, page: page) },
                ]
            )
        }

        routes.get("/admin/disputes/{id}", action: "disputes.decide") { request, context in
            let page = kit.scope(request, context)
            let id = try context.parameters.uuid("id")
            if try await page.registry.tenureDisputes.isTenureDispute(id, logger: context.logger) {
                return try await tenureDispute(page, id, form: WebForm(), error: nil)
            }
            return try await reviewDispute(page, id, form: WebForm(), error: nil)
        }

        routes.post("/admin/disputes/{id}/decision", action: "disputes.decide") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.id("id", as: WorkerID.self)
            let decision = form.text("decision")
            // One queue: a tenure assessment's dispute or a review's, decided by the same form.
            let tenure = try await page.registry.tenureDisputes.isTenureDispute(id.uuid, logger: context.logger)
            do {
                guard let notice = Self.reviewNotices[decision] else { throw RegistryError.invalid("decision", "Choose a decision.") }
                if tenure {
                    try await page.registry.tenureDisputes.decide(
                        id.uuid,
                        uphold: decision == "uphold",
                        note: form.text("note"),
                        caller: page.caller,
                        logger: context.logger
                    )
                } else {
                    try await page.registry.engagements.decideDispute(
                        id.uuid,
                        uphold: decision == "uphold",
                        note: form.text("note"),
                        caller: page.caller,
                        logger: context.logger
                    )
                }
                return page.redirect("/admin/disputes?notice=\(notice)")
            } catch let error as RegistryError where error.kind == .badRequest || (tenure && error.kind == .conflict) {
                return tenure
                    ? try await tenureDispute(page, id.uuid, form: form, error: error)
                    : try await reviewDispute(page, id.uuid, form: form, error: error)
            }
        }

        // Police and credit records
        routes.get("/admin/flag-disputes", action: "flags.adjudicate") { request, context in
            let page = kit.scope(request, context)
            let disputes = try await page.registry.flags.disputes(openOnly: true, logger: context.logger)
            return page.render(
                "admin_flag_disputes",
                [
                    "tabs": Self.tabs(page, current: "flags"),
                    "disputes": disputes.map { Self.flagView($0, page: page) },
                ]
            )
        }

        routes.get("/admin/flag-disputes/{id}", action: "flags.adjudicate") { request, context in
            let page = kit.scope(request, context)
            return try await flagDispute(page, try context.parameters.uuid("id"), form: WebForm(), error: nil)
        }

        routes.post("/admin/flag-disputes/{id}/decision", action: "flags.adjudicate") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.id("id", as: WorkerID.self)
            let decision = form.text("decision")
            do {
                guard let notice = Self.flagNotices[decision] else { throw RegistryError.invalid("decision", "Choose a decision.") }
                try await page.registry.flags.decideDispute(
                    id.uuid,
                    decision: decision,
                    note: form.text("note"),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect("/admin/flag-disputes?notice=\(notice)")
            } catch let error as RegistryError where error.kind == .badRequest {
                return try await flagDispute(page, id.uuid, form: form, error: error)
            }
        }
    }

    static func tabs(_ page: PageScope, current: String) -> [[String: Any]] {
        [
            ["href": "/admin/disputes", "label": page.t.text("disputes.title"), "current": current == "reviews"],
            ["href": "/admin/flag-disputes", "label": page.t.text("disputes.flag_title"), "current": current == "flags"],
        ]
    }

    /// Her name (not her file: opening that is an inquiry with a purpose).
    static func workerName(_ id: WorkerID, page: PageScope) async -> String? {
        try? await page.registry.workers.name(id, caller: page.caller, logger: page.context.logger)
    }

    // MARK: Reviews

    /// An open review dispute with the review it is about, and the decision form.
    func reviewDispute(_ page: PageScope, _ id: UUID, form: WebForm, error: RegistryError?) async throws -> Response {
        let logger = page.context.logger
        guard let d = try await page.registry.engagements.openDisputes(logger: logger).first(where: { $0.id == id }) else {
            throw RegistryError.notFound("Dispute")
        }
        let reviews = try await page.registry.engagements.reviews(about: WorkerID(d.workerID), caller: page.caller, logger: logger)
        var values = page.formValues(form, fields: ["note"], error: error)
        var dispute: [String: Any] = [
            "id": d.id.text, "reason": d.reason, "raised_at": PageScope.dateTime(d.createdAt),
            "worker_id": d.workerID.text,
        ]
        if let name = await Self.workerName(WorkerID(d.workerID), page: page) { dispute["worker_name"] = name }
        values["dispute"] = dispute
        if let r = reviews.first(where: { $0.id == d.reviewID }) {
            var review: [String: Any] = [
                "employer": r.employerName, "created_at": PageScope.dateTime(r.createdAt),
                "scores": EmployerPages.scores(r.skillScores, r.ethicsScores, page: page),
            ]
            if let comment = r.comment { review["comment"] = comment }
            if let reply = r.reply { review["reply"] = reply }
            values["review"] = review
        }
        values["decisions"] = Self.reviewDecisions.map {
            ["value": $0, "label": page.label("review_dispute_decision", $0), "danger": $0 == "uphold"]
        }
        return page.render("admin_dispute", values, status: error?.kind.status ?? .ok)
    }

    // MARK: Tenure assessments

    /// A dispute of a sealed tenure assessment, the agency's answer, and the decision form.
    func tenureDispute(_ page: PageScope, _ id: UUID, form: WebForm, error: RegistryError?) async throws -> Response {
        let d = try await page.registry.tenureDisputes.get(id, caller: page.caller, logger: page.context.logger)
        var values = page.formValues(form, fields: ["note"], error: error)
        values["dispute"] = RepairPages.tenureDisputeView(d, page: page)
        values["is_open"] = d.status == "open"
        values["decisions"] = Self.reviewDecisions.map {
            ["value": $0, "label": page.label("tenure_dispute_decision", $0), "danger": $0 == "uphold"]
        }
        return page.render("admin_tenure_dispute", values, status: error?.kind.status ?? .ok)
    }

    // MARK: Flags

    static func flagView(_ d: FlagService.FlagDispute, page: PageScope) -> [String: Any] {
        [
            "id": d.id.text, "source": d.source, "reference": d.reference, "category": page.label("flag_category", d.category),
            "flag_status": page.label("flag_status", d.flagStatus), "reason": d.reason, "raised_at": PageScope.dateTime(d.createdAt),
            "worker_id": d.workerID.text,
        ]
    }

    /// An open flag dispute and the decision form.
    func flagDispute(_ page: PageScope, _ id: UUID, form: WebForm, error: RegistryError?) async throws -> Response {
        guard let d = try await page.registry.flags.disputes(openOnly: true, logger: page.context.logger).first(where: { $0.id == id }) else {
            throw RegistryError.notFound("Dispute")
        }
        var values = page.formValues(form, fields: ["note"], error: error)
        var dispute = Self.flagView(d, page: page)
        if let name = await Self.workerName(WorkerID(d.workerID), page: page) { dispute["worker_name"] = name }
        values["dispute"] = dispute
        values["decisions"] = Self.flagDecisions.map {
            ["value": $0, "label": page.label("flag_dispute_decision", $0), "danger": false]
        }
        return page.render("admin_flag_dispute", values, status: error?.kind.status ?? .ok)
    }
}
