import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Employers (households): registering, their engagements (confirm, end, review), checking a
/// worker with her consent code, and the report. Workers are addressed by their UUID only.
struct EmployerPages {
    let kit: PageKit

    static let registerFields = ["household_name", "email", "phone", "region_code"]

    func register(on routes: ProtectedRouter) {
        let access = routes.access
        routes.get("/employer/register", action: "employers.register") { request, context in
            let page = kit.scope(request, context)
            return page.render("employer_register", page.formValues(WebForm(), fields: Self.registerFields))
        }

        routes.post("/employer/register", action: "employers.register") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let input = AccountService.EmployerRegistration(
                email: form.optional("email"),
                phone: form.optional("phone"),
                password: form.text("password"),
                householdName: form.text("household_name"),
                regionCode: form.text("region_code")
            )
            do {
                _ = try await page.registry.accounts.register(
                    input,
                    caller: page.caller,
                    clientAddress: context.clientAddress,
                    logger: context.logger
                )
                return page.redirect("/signin?notice=employer_registered")
            } catch let error as RegistryError where error.kind != .forbidden {
                return page.render(
                    "employer_register",
                    page.formValues(form, fields: Self.registerFields, secrets: ["password"], error: error),
                    status: error.kind.status
                )
            }
        }

        routes.get("/employer", action: "engagements.read") { request, context in
            let page = kit.scope(request, context)
            let engagements = try await page.registry.engagements.list(caller: page.caller, logger: context.logger)
            var values: [String: Any] = ["engagements": engagements.map { Self.engagementView($0, page: page) }]
            // Households are real: a placement is confirmed only from an account with a verified phone.
            let contact = try await page.registry.contacts.current(caller: page.caller, logger: context.logger)
            values["phone_unverified"] = !contact.phoneVerified
            if let user = page.caller.principal.userID, (try? access.authorize(context.principal, "cases.read")) != nil {
                let cases = try await CasePages.list(try await CasePages.filed(by: user, page: page), page: page)
                values["cases"] = cases
                values["has_cases"] = !cases.isEmpty
            }
            return page.render("employer_home", values)
        }

        for (event, notice) in [("confirm", "engagement_confirmed"), ("end", "engagement_ended")] {
            routes.post("/employer/engagements/{id}/\(event)", action: "engagements.update") { request, context in
                let page = kit.scope(request, context)
                _ = try await page.form()
                _ = try await page.registry.engagements.transition(
                    try context.parameters.uuid("id"),
                    event,
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect("/employer?notice=\(notice)")
            }
        }

        // Also the target of the QR code on the worker's page: `/check?code=…` fills the code in
        // (after sign-in, which comes back here).
        routes.get("/check", action: "consents.redeem") { request, context in
            let page = kit.scope(request, context)
            var form = WebForm()
            let code = Self.linkedCode(page.query("code"))
            form.append("code", code ?? "")
            var values = page.formValues(form, fields: ["code"])
            values["prefilled"] = code != nil
            return page.render("check", values)
        }

        routes.post("/check", action: "consents.redeem") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                let redeemed = try await page.registry.consents.redeem(
                    code: form.text("code"),
                    caller: page.caller,
                    clientAddress: context.clientAddress,
                    logger: context.logger
                )
                return page.redirect("/employer/workers/\(redeemed.workerId)/report")
            } catch let error as RegistryError where error.kind != .forbidden {
                var response = page.render("check", page.formValues(form, fields: ["code"], error: error), status: error.kind.status)
                if let retry = error.details["retry_after"] { response.headers[.retryAfter] = retry }
                return response
            }
        }

        routes.get("/employer/workers/{id}/report", action: "reports.read") { request, context in
            let page = kit.scope(request, context)
            let report = try await page.registry.reports.report(
                try context.parameters.id("id"),
                caller: page.caller,
                logger: context.logger
            )
            return page.render("report", ["report": Self.reportView(report, page: page)])
        }

        routes.get("/employer/engagements/{id}/review", action: "reviews.write") { request, context in
            let page = kit.scope(request, context)
            let engagement = try await Self.engagement(page, try context.parameters.uuid("id"))
            return reviewForm(page, engagement, form: WebForm(), error: nil)
        }

        routes.post("/employer/engagements/{id}/review", action: "reviews.write") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            let dimensions = page.registry.policies.reports.reviewDimensions
            do {
                var skill: [String: Int] = [:]
                var ethics: [String: Int] = [:]
                for name in dimensions.skill {
                    if let score = try page.integer(form, "skill_" + name) { skill[name] = score }
                }
                for name in dimensions.ethics {
                    if let score = try page.integer(form, "ethics_" + name) { ethics[name] = score }
                }
                _ = try await page.registry.engagements.review(
                    engagement: id,
                    .init(
                        skillScores: skill,
                        ethicsScores: ethics,
                        comment: form.optional("comment")
                    ),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect("/employer?notice=review_saved")
            } catch let error as RegistryError where error.kind != .notFound && error.kind != .forbidden {
                return reviewForm(page, try await Self.engagement(page, id), form: form, error: error)
            }
        }
    }

    /// The code of a check link, when it looks like a consent code: 8 letters and digits (any
    /// case, spaces and dashes dropped). Anything else in the link is not shown back.
    static func linkedCode(_ raw: String?) -> String? {
        guard let raw, raw.count <= 20 else { return nil }
        let code = raw.uppercased().filter { !$0.isWhitespace && $0 != "-" }
        guard code.count == 8, code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return nil }
        return code
    }

    static func engagement(_ page: PageScope, _ id: UUID) async throws -> EngagementService.Engagement {
        let all = try await page.registry.engagements.list(caller: page.caller, logger: page.context.logger)
        guard let found = all.first(where: { $0.id == id }) else { throw RegistryError.notFound("Engagement") }
        return found
    }

    func reviewForm(_ page: PageScope, _ e: EngagementService.Engagement, form: WebForm, error: RegistryError?) -> Response {
        let dimensions = page.registry.policies.reports.reviewDimensions
        // The service names fields `skill_scores.quality`; the form, `skill_quality`.
        var rename: [String: String] = ["skill_scores": "skill_scores", "ethics_scores": "ethics_scores"]
        for name in dimensions.skill { rename["skill_scores." + name] = "skill_" + name }
        for name in dimensions.ethics { rename["ethics_scores." + name] = "ethics_" + name }
        let fields = ["comment", "skill_scores", "ethics_scores"] + dimensions.skill.map { "skill_" + $0 } + dimensions.ethics.map { "ethics_" + $0 }
        var values = page.formValues(form, fields: fields, error: error, rename: rename)
        let errors = values["e"] as? [String: String] ?? [:]
        func rows(_ prefix: String, _ names: [String]) -> [[String: Any]] {
            names.map { name in
                let field = prefix + name
                var row: [String: Any] = [
                    "field": field, "label": page.label("dimension", name),
                    "ratings": page.ratingChoices(selected: form[field]),
                ]
                if let message = errors[field] { row["error"] = message }
                return row
            }
        }
        // The skill dimensions of the engagement's sector only.
        values["skill_rows"] = rows("skill_", page.registry.engagements.skillDimensions(category: e.category))
        values["ethics_rows"] = rows("ethics_", dimensions.ethics)
        values["engagement"] = Self.engagementView(e, page: page)
        values["comment_max"] = String(page.registry.policies.reports.reviewCommentMaxLength)
        return page.render("review_new", values, status: error?.kind.status ?? .ok)
    }

    static func engagementView(_ e: EngagementService.Engagement, page: PageScope) -> [String: Any] {
        let started = CivilDate(iso: e.startsOn).map { $0 <= page.registry.clock.today } ?? false
        var v: [String: Any] = [
            "id": e.id.text, "worker_id": e.workerID.text, "worker_name": e.workerName, "employer_name": e.employerName,
            "category": page.label("category", e.category), "starts_on": e.startsOn, "status": e.status,
            "status_label": page.label("engagement_status", e.status),
            "can_confirm": e.status == EngagementStatus.proposed.rawValue,
            "can_end": e.status == EngagementStatus.confirmed.rawValue,
            "can_report": e.status == EngagementStatus.confirmed.rawValue,
            "can_file_case": e.status == EngagementStatus.confirmed.rawValue || e.status == EngagementStatus.ended.rawValue,
            "can_review": (e.status == EngagementStatus.confirmed.rawValue || e.status == EngagementStatus.ended.rawValue)
                && e.reviewID == nil && started,
            "reviewed": e.reviewID != nil,
        ]
        if let end = e.endsOn { v["ends_on"] = end }
        return v
    }

    static func number(_ value: Double) -> String { String(format: "%.1f", value) }

    /// The words of a grade reason code in the page's language (from the grading policy).
    static func reasonText(_ code: String, page: PageScope) -> String {
        let policy = page.registry.grading.policy
        return policy.reasons.texts[code]?[GradingPolicy.language(for: page.language.rawValue)]?.text ?? code
    }

    /// The report as the templates show it (the employer's view; also the worker's own summary).
    static func reportView(_ r: ReportService.Report, page: PageScope) -> [String: Any] {
        var v: [String: Any] = [
            "worker_id": r.worker.id, "name": r.worker.fullName, "age": String(r.worker.age), "province": r.worker.homeProvince,
            "sex": page.label("sex", r.worker.sex), "categories": page.list(r.worker.serviceCategories.map { page.label("category", $0) }),
            "status": page.label("worker_status", r.worker.status), "agency": r.currentAgency,
            "generated_at": PageScope.dateTime(r.generatedAt.date),
            "revoked": r.standing.revoked, "suspended": r.standing.suspended,
            "in_good_standing": !r.standing.revoked && !r.standing.suspended,
        ]
        if let a = r.agency {
            v["agency_standing"] = [
                "id": a.id, "band": a.band, "points": a.points, "placements": a.placements,
                "summary": page.t.text("agency_public.summary", ["band": a.band, "points": String(a.points), "placements": String(a.placements)]),
            ]
        }
        if let since = r.standing.revokedSince { v["revoked_since"] = PageScope.dateTime(since.date) }
        if let since = r.standing.suspendedSince { v["suspended_since"] = PageScope.dateTime(since.date) }
        if let g = r.grade {
            v["grade"] =
                [
                    "letter": g.grade, "label": page.label("grade", g.grade), "composite": number(g.composite),
                    "ethics": number(g.ethicsScore), "skill": number(g.skillScore), "policy_version": g.policyVersion,
                    "computed_at": PageScope.dateTime(g.computedAt.date),
                    "reasons": g.reasons.map { ["code": $0.code, "text": reasonText($0.code, page: page)] },
                ] as [String: Any]
        }
        v["skills"] = r.skills.map {
            [
                "category": page.label("category", $0.category), "level_label": page.levelLabel($0.level, category: $0.category),
                "assessed_on": $0.assessedOn,
            ]
        }
        v["qualifications"] = r.qualifications.map { q -> [String: Any] in
            var item: [String: Any] = [
                "kind": page.label("training_kind", q.kind), "title": q.title, "issuer": q.issuer,
                "issued_on": q.issuedOn, "valid": q.valid,
            ]
            if let e = q.expiresOn { item["expires_on"] = e }
            return item
        }
        var health: [String: Any] = ["valid": r.health.valid]
        if let until = r.health.validUntil { health["valid_until"] = until }
        v["health"] = health
        v["tenures"] = r.tenures.map { t -> [String: Any] in
            var item: [String: Any] = ["sealed": t.sealed != nil, "agency": t.agency ?? ""]
            if let s = t.startedOn { item["started_on"] = s }
            if let e = t.endedOn { item["ended_on"] = e }
            if let w = t.workAbility { item["work_ability"] = w }
            if let h = t.healthStatus { item["health_status"] = h }
            if let f = t.feedbackSummary { item["feedback_summary"] = f }
            if let r = t.ethicsRating { item["ethics_rating"] = page.label("rating", String(r)) }
            if let n = t.ethicsNote { item["ethics_note"] = n }
            // Overturned on her dispute: struck through with the reason, never a live rating.
            if let o = t.overturned { item["overturned"] = ["reason": o.reason, "on": o.overturnedOn] }
            return item
        }
        v["engagements"] =
            [
                "count": String(r.engagements.count), "total_days": String(r.engagements.totalDays),
                "items": r.engagements.items.map { e -> [String: Any] in
                    var item: [String: Any] = ["category": page.label("category", e.category), "starts_on": e.startsOn, "days": String(e.days)]
                    if let end = e.endsOn { item["ends_on"] = end }
                    return item
                },
            ] as [String: Any]
        func averages(_ map: [String: Double]) -> [[String: String]] {
            map.keys.sorted().map { ["label": page.label("dimension", $0), "value": number(map[$0]!)] }
        }
        v["reviews"] =
            [
                "count": String(r.reviews.count), "any": r.reviews.count > 0,
                "skill_averages": averages(r.reviews.skillAverages), "ethics_averages": averages(r.reviews.ethicsAverages),
                "recent": r.reviews.recent.map { item -> [String: Any] in
                    var row: [String: Any] = [
                        "date": PageScope.dateTime(item.date.date), "household": item.household,
                        "scores": scores(item.skillScores, item.ethicsScores, page: page),
                    ]
                    if let c = item.comment { row["comment"] = c }
                    if let reply = item.reply { row["reply"] = reply }
                    if let via = item.confirmedVia, let at = item.confirmedAt {
                        row["confirmation"] = page.t.text("report.confirmed_\(via)", ["date": String(PageScope.dateTime(at.date).prefix(10))])
                    }
                    return row
                },
            ] as [String: Any]
        v["flags"] = r.flags.map {
            [
                "category": page.label("flag_category", $0.category), "occurred_on": $0.occurredOn, "source": $0.source,
                "status": page.label("flag_status", $0.status),
            ]
        }
        return v
    }

    /// "准时 5 · 质量 4 …" for one review.
    static func scores(_ skill: [String: Int], _ ethics: [String: Int], page: PageScope) -> String {
        let parts =
            skill.keys.sorted().map { "\(page.label("dimension", $0)) \(skill[$0]!)" }
            + ethics.keys.sorted().map { "\(page.label("dimension", $0)) \(ethics[$0]!)" }
        return parts.joined(separator: " · ")
    }
}
