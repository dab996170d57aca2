import Foundation
import Hummingbird
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage

/// The worker's own pages: her file in short, her grade in plain words, who checked her, her
/// consent codes, the reviews about her (with her reply), availability for hire; and the
/// activation page where she sets her password with the code her agency had sent to her phone.
struct WorkerSelfPages {
    let kit: PageKit

    static let activateFields = ["phone", "code"]

    func register(on routes: ProtectedRouter) {
        let access = routes.access

        routes.get("/worker", action: "grades.read_own") { request, context in
            let page = kit.scope(request, context)
            return try await home(page, access: access, issued: nil, replyForm: WebForm(), replyError: nil)
        }

        routes.post("/worker/consents", action: "consents.issue") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            let issued = try await page.registry.consents.issue(caller: page.caller, logger: context.logger)
            // The code is shown once, on this answer; it is never put in a redirect.
            return try await home(page, access: access, issued: issued, replyForm: WebForm(), replyError: nil)
        }

        routes.post("/worker/consents/{id}/revoke", action: "consents.revoke") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            try await page.registry.consents.revoke(try context.parameters.uuid("id"), caller: page.caller, logger: context.logger)
            return page.redirect("/worker?notice=consent_revoked#consents")
        }

        routes.post("/worker/reviews/{id}/reply", action: "reviews.reply") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                try await page.registry.engagements.reply(try context.parameters.uuid("id"), body: form.text("body"), caller: page.caller,
                                                          logger: context.logger)
            } catch let error as RegistryError where error.kind != .notFound && error.kind != .forbidden {
                return try await home(page, access: access, issued: nil, replyForm: form, replyError: error,
                                      replyTo: context.parameters.get("id"))
            }
            return page.redirect("/worker?notice=reply_saved")
        }

        routes.post("/worker/availability", action: "availability.set") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let available = form.text("available") == "true"
            try await page.registry.accounts.setAvailable(available, caller: page.caller, logger: context.logger)
            return page.redirect("/worker?notice=" + (available ? "available_on" : "available_off"))
        }

        routes.get("/activate", action: "auth.activate") { request, context in
            let page = kit.scope(request, context)
            return activateForm(page, form: WebForm(), error: nil)
        }

        routes.post("/activate", action: "auth.activate") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                try await page.registry.accounts.activateWorker(phone: form.text("phone"), code: form.text("code"),
                                                                password: form.text("password"),
                                                                throttle: page.registry.policies.authentication, logger: context.logger)
                return page.redirect("/signin?notice=activated")
            } catch let error as RegistryError {
                var response = activateForm(page, form: form, error: error)
                if let retry = error.details["retry_after"] { response.headers[.retryAfter] = retry }
                return response
            }
        }
    }

    /// Her composite over time as a small step chart: one point per grade change (before any
    /// change is recorded, the current grade alone).
    static func historyChart(_ explained: GradingService.Explained, page: PageScope) -> SVGNode {
        var points = explained.history.map { Charts.Point(at: $0.changedAt, value: $0.composite, label: $0.toGrade) }
        if points.isEmpty { points = [Charts.Point(at: explained.computedAt, value: explained.composite, label: explained.grade)] }
        return Charts.steps(id: "grade-history-chart", title: page.t.text("worker_home.history_chart"), points: points, now: Date(),
                            range: 0...100, noData: page.t.text("dashboard.no_data"),
                            dateText: { String(PageScope.dateTime($0).prefix(10)) }, list: page.list)
    }

    func activateForm(_ page: PageScope, form: WebForm, error: RegistryError?) -> Response {
        var values = page.formValues(form, fields: Self.activateFields, secrets: ["password"], error: error)
        values["min"] = String(page.registry.policies.authentication.passwordMinLength)
        return page.render("activate", values, status: error?.kind.status ?? .ok)
    }

    /// Her home page. Each part is shown only when her role is granted its own action.
    func home(_ page: PageScope, access: AccessPolicy, issued: ConsentService.Issued?, replyForm: WebForm, replyError: RegistryError?,
              replyTo: String? = nil) async throws -> Response {
        guard let workerID = page.caller.workerUUID else { throw RegistryError.forbidden }
        let logger = page.context.logger
        let principal = page.context.principal
        func allowed(_ action: String) -> Bool { (try? access.authorize(principal, action)) != nil }

        let report = try await page.registry.reports.report(workerID, caller: page.caller, workers: page.registry.workers, logger: logger)
        var values: [String: Any] = ["report": EmployerPages.reportView(report, page: page)]

        do {
            let explained = try await page.registry.grading.explained(workerID, language: page.language.rawValue, logger: logger)
            values["own_grade"] = [
                "letter": explained.grade, "label": page.label("grade", explained.grade),
                "composite": EmployerPages.number(explained.composite), "computed_at": PageScope.dateTime(explained.computedAt),
                "reasons": explained.reasons.map { r -> [String: Any] in
                    let c = r.contribution ?? 0
                    var item: [String: Any] = ["text": r.text, "tone": c > 0 ? "positive" : (c < 0 ? "negative" : "neutral")]
                    if !r.improve.isEmpty { item["improve"] = r.improve }
                    if let d = r.detail { item["detail"] = d.text }
                    return item
                },
                "history_chart": Self.historyChart(explained, page: page).view,
                "has_history": !explained.history.isEmpty,
                "history": explained.history.reversed().map { h -> [String: Any] in
                    ["to": h.toGrade, "from": h.fromGrade ?? "–", "at": PageScope.dateTime(h.changedAt)]
                },
            ] as [String: Any]
        } catch let error as RegistryError where error.kind == .notFound {
            values["not_graded"] = true
        }

        if allowed("inquiries.read") {
            let inquiries = try await page.registry.reports.inquiries(caller: page.caller, logger: logger)
            values["inquiries"] = inquiries.prefix(50).map { i -> [String: Any] in
                ["who": i.viewerName ?? page.label("roles", i.viewerRole), "role": page.label("roles", i.viewerRole),
                 "purpose": page.label("inquiry_purpose", i.purpose), "at": PageScope.dateTime(i.viewedAt)]
            }
            values["show_inquiries"] = true
        }

        if allowed("consents.read") {
            let now = Date()
            let consents = try await page.registry.consents.list(caller: page.caller, logger: logger)
            values["consents"] = consents.prefix(20).map { c -> [String: Any] in
                let state: String
                if c.revokedAt != nil { state = "revoked" }
                else if let until = c.accessUntil, until > now { state = "in_use" }
                else if c.usedAt != nil { state = "used" }
                else if c.expiresAt <= now { state = "expired" }
                else { state = "active" }
                var item: [String: Any] = ["id": c.id.text, "state": state, "state_label": page.label("consent_state", state),
                                           "created_at": PageScope.dateTime(c.createdAt), "expires_at": PageScope.dateTime(c.expiresAt),
                                           "can_revoke": allowed("consents.revoke") && (state == "active" || state == "in_use")]
                if let used = c.usedAt { item["used_at"] = PageScope.dateTime(used) }
                if let name = c.usedByName { item["used_by"] = name }
                return item
            }
            values["show_consents"] = true
            values["can_issue"] = allowed("consents.issue")
        }
        if let issued, let code = issued.code {
            // The code, and the check page's link with it filled in: as text and as a QR code.
            var shown = page.checkLink(code: code, path: issued.checkPath)
            shown["code"] = code
            shown["expires_at"] = PageScope.dateTime(issued.expiresAt)
            values["issued"] = shown
        }

        if allowed("reviews.read_own") {
            let reviews = try await page.registry.database.withConnection { connection in
                try await ReviewStore.forWorker(workerID, includeHidden: true, on: connection, logger: logger)
            }
            let canReply = allowed("reviews.reply")
            let message = replyError.map { page.message(for: $0) }
            values["reviews"] = reviews.map { r -> [String: Any] in
                var item: [String: Any] = ["id": r.id.text, "household": r.employerName, "date": PageScope.dateTime(r.createdAt),
                                           "scores": EmployerPages.scores(r.skillScores, r.ethicsScores, page: page),
                                           "hidden": r.hiddenAt != nil, "can_reply": canReply && r.reply == nil && r.hiddenAt == nil]
                if let c = r.comment { item["comment"] = c }
                if let reply = r.reply { item["reply"] = reply }
                if let reason = r.hiddenReason { item["hidden_reason"] = reason }
                if replyTo == r.id.text {
                    item["typed"] = replyForm.text("body")
                    if let message { item["error"] = message }
                }
                return item
            }
            values["show_reviews"] = true
            values["reply_max"] = String(page.registry.policies.reports.replyMaxLength)
        }

        if allowed("cases.read") {
            let cases = try await CasePages.list(try await CasePages.about(workerID, page: page), page: page)
            values["cases"] = cases
            values["has_cases"] = !cases.isEmpty
        }

        if allowed("availability.set") {
            var available = false
            let rows = try await page.registry.database.query(
                "SELECT available_for_hire FROM workers WHERE id = \(workerID)", logger: logger)
            for try await value in rows.decode(Bool.self) { available = value }
            values["availability"] = ["on": available, "can_list": report.worker.status == "active" || available]
        }
        return page.render("worker_home", values, status: replyError?.kind.status ?? .ok)
    }
}
