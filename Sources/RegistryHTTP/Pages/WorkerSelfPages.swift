import Foundation
import Hummingbird
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
            return try await home(page, access: access, issued: nil)
        }

        routes.post("/worker/consents", action: "consents.issue") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            let issued = try await page.registry.consents.issue(caller: page.caller, logger: context.logger)
            // The code is shown once, on this answer; it is never put in a redirect.
            return try await home(page, access: access, issued: issued)
        }

        routes.post("/worker/consents/{id}/revoke", action: "consents.revoke") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            try await page.registry.consents.revoke(try context.parameters.uuid("id"), caller: page.caller, logger: context.logger)
            return page.redirect("/worker?notice=consent_revoked#consents")
        }

        routes.post("/worker/reviews/{id}/reply", action: "reviews.reply") { request, context in
            try await answer(request, context, access: access, form: .reply, notice: "reply_saved") { page, id, form in
                try await page.registry.engagements.reply(id, body: form.text("body"), caller: page.caller, logger: page.context.logger)
            }
        }

        routes.post("/worker/reviews/{id}/dispute", action: "reviews.dispute") { request, context in
            try await answer(request, context, access: access, form: .reviewDispute, notice: "review_disputed", fragment: "reviews") {
                page,
                id,
                form in
                _ = try await page.registry.engagements.dispute(id, reason: form.text("reason"), caller: page.caller, logger: page.context.logger)
            }
        }

        routes.post("/worker/flags/{id}/dispute", action: "flags.dispute") { request, context in
            try await answer(request, context, access: access, form: .flagDispute, notice: "flag_disputed", fragment: "flags") { page, id, form in
                _ = try await page.registry.flags.dispute(flagID: id, reason: form.text("reason"), caller: page.caller, logger: page.context.logger)
            }
        }

        // Her answer to a transfer between agencies, in her own account (no code needed).
        routes.post("/worker/transfers/{id}/consent", action: "transfers.consent") { request, context in
            try await answer(
                request,
                context,
                access: access,
                form: .transferConsent,
                notice: "transfer_consented_own",
                fragment: "transfers"
            ) { page, id, _ in
                _ = try await page.registry.transfers.consent(id, code: nil, caller: page.caller, logger: page.context.logger)
            }
        }

        routes.post("/worker/transfers/{id}/refuse", action: "transfers.reject") { request, context in
            try await answer(
                request,
                context,
                access: access,
                form: .transferRefuse,
                notice: "transfer_refused_own",
                fragment: "transfers"
            ) { page, id, form in
                _ = try await page.registry.transfers.close(
                    id,
                    .reject,
                    reason: form.optional("reason"),
                    caller: page.caller,
                    logger: page.context.logger
                )
            }
        }

        // She may withdraw her consent until the transfer completes.
        routes.post("/worker/transfers/{id}/withdraw", action: "transfers.cancel") { request, context in
            try await answer(
                request,
                context,
                access: access,
                form: .transferRefuse,
                notice: "transfer_withdrawn_own",
                fragment: "transfers"
            ) { page, id, _ in
                _ = try await page.registry.transfers.close(
                    id,
                    .cancel,
                    reason: "Consent withdrawn by the worker.",
                    caller: page.caller,
                    logger: page.context.logger
                )
            }
        }

        routes.post("/worker/availability", action: "availability.set") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let available = form.text("available") == "true"
            try await page.registry.accounts.setAvailable(available, caller: page.caller, logger: context.logger)
            return page.redirect("/worker?notice=" + (available ? "available_on" : "available_off"))
        }

        routes.post("/worker/red-list", action: "red_list.own") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let optIn = form.text("opt_in") == "true"
            _ = try await page.registry.publicLists.setRedList(optIn: optIn, caller: page.caller, logger: context.logger)
            return page.redirect("/worker?notice=" + (optIn ? "red_list_in" : "red_list_out"))
        }

        routes.get("/activate", action: "auth.activate") { request, context in
            let page = kit.scope(request, context)
            return activateForm(page, form: WebForm(), error: nil)
        }

        routes.post("/activate", action: "auth.activate") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                try await page.registry.accounts.activateWorker(
                    phone: form.text("phone"),
                    code: form.text("code"),
                    password: form.text("password"),
                    throttle: page.registry.policies.authentication,
                    clientAddress: context.clientAddress,
                    logger: context.logger
                )
                return page.redirect("/signin?notice=activated")
            } catch let error as RegistryError {
                var response = activateForm(page, form: form, error: error)
                if let retry = error.details["retry_after"] { response.headers[.retryAfter] = retry }
                return response
            }
        }
    }

    /// The forms on her page that answer one item (a review, a flag, a transfer).
    enum ItemForm: Sendable { case reply, reviewDispute, flagDispute, transferConsent, transferRefuse }

    /// A form of her page sent back with an error: which form, for which item, what was typed.
    struct Failed {
        var form: ItemForm
        var target: String
        var typed: WebForm
        var error: RegistryError
        var message: String
    }

    /// Runs one of her answers, then goes back to her page: with a notice when it worked, or
    /// with the error next to the item's form (keeping what she typed) when it did not.
    func answer(
        _ request: Request,
        _ context: AppRequestContext,
        access: AccessPolicy,
        form kind: ItemForm,
        notice: String,
        fragment: String? = nil,
        _ step: (PageScope, UUID, WebForm) async throws -> Void
    ) async throws -> Response {
        let page = kit.scope(request, context)
        let form = try await page.form()
        let id = try context.parameters.uuid("id")
        do {
            try await step(page, id, form)
        } catch let error as RegistryError where error.kind != .notFound && error.kind != .forbidden && error.kind != .unauthorized {
            let failed = Failed(form: kind, target: id.text, typed: form, error: error, message: page.message(for: error))
            return try await home(page, access: access, issued: nil, failed: failed)
        }
        return page.redirect("/worker?notice=\(notice)" + (fragment.map { "#" + $0 } ?? ""))
    }

    /// Her composite over time as a small step chart: one point per grade change (before any
    /// change is recorded, the current grade alone).
    static func historyChart(_ explained: GradingService.Explained, page: PageScope) -> SVGNode {
        var points = explained.history.map { Charts.Point(at: $0.changedAt, value: $0.composite, label: $0.toGrade) }
        if points.isEmpty { points = [Charts.Point(at: explained.computedAt, value: explained.composite, label: explained.grade)] }
        return Charts.steps(
            id: "grade-history-chart",
            title: page.t.text("worker_home.history_chart"),
            points: points,
            now: page.registry.clock.now,
            range: 0...100,
            noData: page.t.text("dashboard.no_data"),
            dateText: { String(PageScope.dateTime($0).prefix(10)) },
            list: page.list
        )
    }

    func activateForm(_ page: PageScope, form: WebForm, error: RegistryError?) -> Response {
        var values = page.formValues(form, fields: Self.activateFields, secrets: ["password"], error: error)
        values["min"] = String(page.registry.policies.authentication.passwordMinLength)
        return page.render("activate", values, status: error?.kind.status ?? .ok)
    }

    /// Her home page. Each part is shown only when her role is granted its own action.
    func home(_ page: PageScope, access: AccessPolicy, issued: ConsentService.Issued?, failed: Failed? = nil) async throws -> Response {
        guard let workerID = page.caller.principal.workerID else { throw RegistryError.forbidden }
        let logger = page.context.logger
        let principal = page.context.principal
        func allowed(_ action: String) -> Bool { (try? access.authorize(principal, action)) != nil }

        func failure(_ form: ItemForm, _ target: String) -> Failed? {
            guard let failed, failed.form == form, failed.target == target else { return nil }
            return failed
        }

        let report = try await page.registry.reports.report(workerID, caller: page.caller, logger: logger)
        var values: [String: Any] = ["report": EmployerPages.reportView(report, page: page)]

        // Transfers between agencies waiting for her answer (or for the old agency to seal).
        if allowed("workers.read") {
            let file = try await page.registry.workers.file(workerID, caller: page.caller, logger: logger)
            // Open: the transfer's state still allows a step (the state machine says which).
            let open = file.transfers.filter { !$0.allowed.isEmpty }
            values["own_transfers"] = open.map { t -> [String: Any] in
                let waiting = t.allowed.contains(TransferEvent.consent.rawValue)
                var item: [String: Any] = [
                    "id": t.id, "from_agency": t.fromAgencyName ?? "", "to_agency": t.toAgencyName, "status": t.status,
                    "state_text": page.t.text(
                        waiting ? "worker_home.transfer_waiting" : "worker_home.transfer_consented",
                        ["from": t.fromAgencyName ?? ""]
                    ),
                    "requested_at": PageScope.dateTime(t.requestedAt),
                    "question": page.t.text("worker_home.transfer_question", ["from": t.fromAgencyName ?? "", "to": t.toAgencyName]),
                    "can_answer": waiting && allowed("transfers.consent") && allowed("transfers.reject")
                        && t.allowed.contains(TransferEvent.reject.rawValue),
                    "can_withdraw": !waiting && t.status == TransferStatus.consented.rawValue && allowed("transfers.cancel"),
                ]
                if let f = failure(.transferRefuse, t.id) {
                    item["refuse_error"] = f.message
                    item["refuse_typed"] = f.typed.text("reason")
                } else if let f = failure(.transferConsent, t.id) {
                    item["transfer_error"] = f.message
                }
                return item
            }
            values["has_transfers"] = !open.isEmpty
        }

        do {
            let explained = try await page.registry.grading.explained(workerID, language: page.language.rawValue, logger: logger)
            values["own_grade"] =
                [
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
                [
                    "who": i.viewerName ?? page.label("roles", i.viewerRole), "role": page.label("roles", i.viewerRole),
                    "purpose": page.label("inquiry_purpose", i.purpose), "at": PageScope.dateTime(i.viewedAt),
                ]
            }
            values["show_inquiries"] = true
        }

        if allowed("consents.read") {
            let now = page.registry.clock.now
            let consents = try await page.registry.consents.list(caller: page.caller, logger: logger)
            values["consents"] = consents.prefix(20).map { c -> [String: Any] in
                let state: String
                if c.revokedAt != nil {
                    state = "revoked"
                } else if let until = c.accessUntil, until > now {
                    state = "in_use"
                } else if c.usedAt != nil {
                    state = "used"
                } else if c.expiresAt <= now {
                    state = "expired"
                } else {
                    state = "active"
                }
                var item: [String: Any] = [
                    "id": c.id.text, "state": state, "state_label": page.label("consent_state", state),
                    "created_at": PageScope.dateTime(c.createdAt), "expires_at": PageScope.dateTime(c.expiresAt),
                    "can_revoke": allowed("consents.revoke") && (state == "active" || state == "in_use"),
                ]
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
            let reviews = try await page.registry.engagements.reviews(about: workerID, caller: page.caller, logger: logger)
            let canReply = allowed("reviews.reply")
            let canDispute = allowed("reviews.dispute")
            // Her latest dispute of each review (newest first from the service).
            var disputes: [UUID: EngagementService.OwnDispute] = [:]
            if canDispute {
                for d in try await page.registry.engagements.ownDisputes(caller: page.caller, logger: logger) where disputes[d.reviewID] == nil {
                    disputes[d.reviewID] = d
                }
            }
            values["reviews"] = reviews.map { r -> [String: Any] in
                let dispute = disputes[r.id]
                var item: [String: Any] = [
                    "id": r.id.text, "household": r.employerName, "date": PageScope.dateTime(r.createdAt),
                    "scores": EmployerPages.scores(r.skillScores, r.ethicsScores, page: page),
                    "hidden": r.hiddenAt != nil, "can_reply": canReply && r.reply == nil && r.hiddenAt == nil,
                    // (also to show why a dispute sent from this form was refused)
                    "can_dispute": canDispute
                        && ((r.hiddenAt == nil && dispute?.status != "open")
                            || failure(.reviewDispute, r.id.text) != nil)
                        ,
                ]
                if let c = r.comment { item["comment"] = c }
                if let reply = r.reply { item["reply"] = reply }
                if let reason = r.hiddenReason { item["hidden_reason"] = reason }
                if let dispute {
                    var shown: [String: Any] = [
                        "state_label": page.label("review_dispute_status", dispute.status),
                        "at": PageScope.dateTime(dispute.createdAt),
                    ]
                    if let note = dispute.decisionNote { shown["answer"] = note }
                    item["review_dispute"] = shown
                }
                if let f = failure(.reply, r.id.text) {
                    item["typed"] = f.typed.text("body")
                    item["error"] = f.message
                }
                if let f = failure(.reviewDispute, r.id.text) {
                    item["dispute_typed"] = f.typed.text("reason")
                    item["dispute_error"] = f.message
                }
                return item
            }
            values["show_reviews"] = true
            values["reply_max"] = String(page.registry.policies.reports.replyMaxLength)
        }

        if allowed("flags.read_own") {
            let flags = try await page.registry.flags.ownFlags(caller: page.caller, logger: logger)
            let canDispute = allowed("flags.dispute")
            var disputes: [UUID: FlagService.OwnFlagDispute] = [:]
            if canDispute {
                for d in try await page.registry.flags.ownDisputes(caller: page.caller, logger: logger) where disputes[d.flagID] == nil {
                    disputes[d.flagID] = d
                }
            }
            // Credit repair: a repaired record says so ("repaired on").
            var repairedOn: [String: String] = [:]
            if allowed("repairs.apply") {
                for r in try await page.registry.repairs.records(caller: page.caller, logger: logger) {
                    if let on = r.repairedOn { repairedOn[r.flagId] = on }
                }
                values["can_repair"] = true
            }
            values["flags"] = flags.map { f -> [String: Any] in
                let dispute = UUID(uuidString: f.id).flatMap { disputes[$0] }
                var item: [String: Any] = [
                    "id": f.id, "category": page.label("flag_category", f.category), "source": f.source, "status": f.status,
                    "status_label": page.label("flag_status", f.status), "severity": String(f.severity), "occurred_on": f.occurredOn,
                    "expired": f.expired, "can_dispute": canDispute && (dispute?.status != "open" || failure(.flagDispute, f.id) != nil),
                ]
                if let e = f.expiresOn { item["expires_on"] = e }
                if let on = repairedOn[f.id] { item["repaired_on"] = on }
                if let n = f.narrative { item["narrative"] = n }
                if let dispute {
                    var shown: [String: Any] = [
                        "state_label": page.label("flag_dispute_status", dispute.status),
                        "at": PageScope.dateTime(dispute.createdAt),
                    ]
                    if let note = dispute.note { shown["answer"] = note }
                    item["flag_dispute"] = shown
                }
                if let failed = failure(.flagDispute, f.id) {
                    item["dispute_typed"] = failed.typed.text("reason")
                    item["dispute_error"] = failed.message
                }
                return item
            }
            values["show_flags"] = true
        }

        if allowed("cases.read") {
            let cases = try await CasePages.list(try await CasePages.about(workerID, page: page), page: page)
            values["cases"] = cases
            values["has_cases"] = !cases.isEmpty
        }

        if allowed("availability.set") {
            let available = try await page.registry.accounts.isAvailable(caller: page.caller, logger: logger)
            values["availability"] = ["on": available, "can_list": report.worker.status == "active" || available]
        }

        if allowed("red_list.own") {
            let red = try await page.registry.publicLists.redList(caller: page.caller, logger: logger)
            values["red_list"] = [
                "opt_in": red.optIn, "listed": red.listed,
                "rule": page.t.text("red_list.rule", ["grade": page.label("grade", red.grade), "days": String(red.minDays)]),
                "missing": red.missing.filter { $0 != "not_opted_in" }.map { page.t.text("red_list.missing_" + $0) },
                "has_missing": red.missing.contains { $0 != "not_opted_in" },
            ]
        }
        return page.render("worker_home", values, status: failed?.error.kind.status ?? .ok)
    }
}
