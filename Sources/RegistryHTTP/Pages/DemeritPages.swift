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

    static func render(_ page: PageScope, agencyID: UUID?, form: WebForm, failed: UUID? = nil, error: RegistryError?) async throws -> Response {
        let standing = try await page.registry.demerits.standing(agencyID: agencyID, caller: page.caller, logger: page.context.logger)
        let admin = page.caller.principal.role == .admin
        var values = page.formValues(form, fields: failed == nil ? recordFields : [], error: failed == nil ? error : nil)
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
        if failed != nil, let error { values["form_error"] = ["message": page.message(for: error)] }
        return page.render("demerits", values, status: error?.kind.status ?? .ok)
    }
}
