import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Agency demerit points as pages: the agency's own file with a form to answer each open notice
/// (`/agency/demerits`); an agency's file for administrators, with the forms to record an offence
/// and to uphold or withdraw a notice (`/admin/agencies/{id}/demerits`); and the administrators'
/// queue of notices awaiting an answer or a decision (`/admin/demerits`).
struct DemeritPages {
    let kit: PageKit

    static let recordFields = ["offence", "evidence"]

    func register(on routes: ProtectedRouter) {
        routes.get("/agency/demerits", action: "demerits.read") { request, context in
            let page = kit.scope(request, context)
            return try await Self.render(page, agencyID: nil, form: WebForm(), error: nil)
        }

        routes.post("/agency/demerits/{id}/answer", action: "demerits.answer") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            do {
                _ = try await page.registry.demerits.answer(id, text: form.text("answer"), caller: page.caller, logger: context.logger)
                return page.redirect("/agency/demerits?notice=demerit_answered#demerit-\(id.text)")
            } catch let error as RegistryError where error.kind == .badRequest || error.kind == .conflict {
                return try await Self.render(page, agencyID: nil, form: form, failed: id, error: error)
            }
        }

        routes.get("/admin/agencies/{id}/demerits", action: "demerits.read") { request, context in
            let page = kit.scope(request, context)
            return try await Self.render(page, agencyID: try context.parameters.uuid("id"), form: WebForm(), error: nil)
        }

        routes.post("/admin/agencies/{id}/demerits", action: "demerits.record") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let agencyID = try context.parameters.uuid("id")
            do {
                _ = try await page.registry.demerits.record(
                    agencyID: agencyID,
                    .init(offence: form.text("offence"), evidence: form.text("evidence")),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect("/admin/agencies/\(agencyID.text)/demerits?notice=demerit_recorded")
            } catch let error as RegistryError where error.kind == .badRequest {
                return try await Self.render(page, agencyID: agencyID, form: form, error: error)
            }
        }

        routes.post("/admin/demerits/{id}/decision", action: "demerits.decide") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            let decision = form.text("decision")
            do {
                guard ["uphold", "withdraw"].contains(decision) else { throw RegistryError.invalid("decision", "Choose a decision.") }
                let decided = try await page.registry.demerits.decide(
                    id,
                    uphold: decision == "uphold",
                    reason: form.text("reason"),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect(
                    "/admin/agencies/\(decided.agencyId.text)/demerits?notice=demerit_\(decision == "uphold" ? "upheld" : "withdrawn")"
                )
            } catch let error as RegistryError where error.kind == .badRequest || error.kind == .conflict {
                let agency = try await page.registry.demerits.queue(caller: page.caller, logger: context.logger).first { $0.id == id }?.agencyId
                guard let agency else { throw error }
                return try await Self.render(page, agencyID: agency, form: form, failed: id, error: error)
            }
        }

        // A case against the agency: the administrators' proposal and decision, the agency's objection.
        routes.post("/admin/agency-cases/{id}/{step}", action: "agency_cases.decide") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            let step = context.parameters.get("step") ?? ""
            guard step == "proposal" || step == "decision" else { throw RegistryError.notFound("Resource") }
            let cases = try await page.registry.demerits.cases(caller: page.caller, logger: context.logger)
            guard let agency = cases.first(where: { $0.id == id })?.agencyId else { throw RegistryError.notFound("Case") }
            do {
                if step == "proposal" {
                    _ = try await page.registry.demerits.proposeCase(
                        id,
                        outcome: form.text("proposal"),
                        reason: form.text("reason"),
                        caller: page.caller,
                        logger: context.logger
                    )
                } else {
                    _ = try await page.registry.demerits.decideCase(
                        id,
                        confirm: form.text("confirm") == "true",
                        reason: form.text("reason"),
                        caller: page.caller,
                        logger: context.logger
                    )
                }
                return page.redirect("/admin/agencies/\(agency.text)/demerits?notice=agency_case_\(step)")
            } catch let error as RegistryError where error.kind == .badRequest || error.kind == .conflict || error.code == "four_eyes" {
                return try await Self.render(page, agencyID: agency, form: form, error: error, caseError: true)
            }
        }
        routes.post("/agency/agency-cases/{id}/objection", action: "agency_cases.object") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                _ = try await page.registry.demerits.objectToCase(
                    try context.parameters.uuid("id"),
                    text: form.text("objection"),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect("/agency/demerits?notice=agency_case_objection")
            } catch let error as RegistryError where error.kind == .badRequest || error.kind == .conflict {
                return try await Self.render(page, agencyID: nil, form: form, error: error, caseError: true)
            }
        }

        routes.get("/admin/demerits", action: "demerits.decide") { request, context in
            let page = kit.scope(request, context)
            let open = try await page.registry.demerits.queue(caller: page.caller, logger: context.logger)
            return page.render("admin_demerits", ["demerits": open.map { Self.item($0, page: page) }])
        }
    }

    static func item(_ d: DemeritService.Demerit, page: PageScope) -> [String: Any] {
        var v: [String: Any] = [
            "id": d.id.text, "agency_id": d.agencyId.text, "agency_name": d.agencyName, "offence": d.offence,
            "offence_text": page.language == .zh ? d.offenceZh : d.offenceEn, "points": d.points,
            "state": d.state, "state_text": page.t.text("demerits.state_\(d.state)"), "evidence": d.evidence,
            "recorded_by": page.t.text("demerits.recorded_by_\(d.recordedBy)"), "recorded_at": PageScope.dateTime(d.recordedAt),
            "answer_due": PageScope.dateTime(d.answerDue), "in_force": d.inForce,
            "open": d.state == "notified" || d.state == "answered", "can_answer": d.state == "notified",
        ]
        v["answer"] = d.answer
        v["decision_reason"] = d.decisionReason
        v["decided_at"] = d.decidedAt.map(PageScope.dateTime)
        v["decided_by_deadline"] = d.decidedBy == "deadline"
        v["expires_at"] = d.expiresAt.map(PageScope.dateTime)
        return v
    }

    static func render(
        _ page: PageScope,
        agencyID: UUID?,
        form: WebForm,
        failed: UUID? = nil,
        error: RegistryError?,
        caseError: Bool = false
    ) async throws -> Response {
        let standing = try await page.registry.demerits.standing(agencyID: agencyID, caller: page.caller, logger: page.context.logger)
        let admin = page.caller.principal.role == .admin
        var values = page.formValues(form, fields: failed == nil && !caseError ? recordFields : [], error: failed == nil && !caseError ? error : nil)
        let cases = try await page.registry.demerits.cases(caller: page.caller, logger: page.context.logger).filter {
            $0.agencyId == standing.agencyId
        }
        values["cases"] = cases.map { c -> [String: Any] in
            var v: [String: Any] = [
                "id": c.id.text, "opened_at": PageScope.dateTime(c.openedAt), "points": c.points,
                "state_text": page.t.text("agency_cases.state_\(c.state)"),
                "can_propose": c.state == "open",
                "can_object": c.state == "proposed" && (c.objectionUntil.map { $0 > page.registry.clock.now } ?? false),
                "can_decide": c.state == "objected" || (c.state == "proposed" && !(c.objectionUntil.map { $0 > page.registry.clock.now } ?? true)),
            ]
            v["proposal"] = c.proposal.map { page.t.text("agency_cases.outcome_\($0)") }
            v["proposal_reason"] = c.proposalReason
            v["objection_until"] = c.objectionUntil.map(PageScope.dateTime)
            v["objection"] = c.objection
            v["outcome"] = c.outcome.map { page.t.text("agency_cases.outcome_\($0)") }
            v["decision_reason"] = c.decisionReason
            if caseError, let error { v["error"] = page.message(for: error) }
            return v
        }
        values["admin"] = admin
        values["agency_id"] = standing.agencyId.text
        values["agency_name"] = standing.agencyName
        values["points"] = standing.points
        values["level"] = standing.level
        values["level_text"] = page.t.text("demerits.level_\(standing.level)")
        values["level_raised"] = standing.level != "none"
        values["thresholds"] = page.t.text(
            "demerits.thresholds",
            [
                "warning": String(standing.thresholds["warning"] ?? 0),
                "suspend": String(standing.thresholds["suspend_registrations"] ?? 0),
                "case": String(standing.thresholds["case"] ?? 0),
            ]
        )
        values["demerits"] = standing.demerits.map { d -> [String: Any] in
            var v = item(d, page: page)
            if d.id == failed, let error {
                v["error"] = page.message(for: error)
                v["typed"] = form.text(admin ? "reason" : "answer")
            }
            return v
        }
        let policy = page.registry.policies.demerits
        values["offences"] = policy.offences.filter { $0.value.recordedBy == .administrator }.sorted { $0.key < $1.key }.map {
            [
                "value": $0.key, "label": "\($0.value.text(language: page.language == .zh ? "zh" : "en")) (\($0.value.points))",
                "selected": form.text("offence") == $0.key,
            ] as [String: Any]
        }
        values["answer_days"] = policy.answerDays
        if failed != nil || caseError, let error { values["form_error"] = ["message": page.message(for: error)] }
        return page.render("demerits", values, status: error?.kind.status ?? .ok)
    }
}
