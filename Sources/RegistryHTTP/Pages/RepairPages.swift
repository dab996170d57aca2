import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// The pages of two due-process steps. A worker disputes an agency's sealed assessment of her
/// tenure (`/worker/tenures`), the agency answers (`/agency/tenure-disputes`) and an
/// administrator decides in the dispute queue (`DisputePages`). A worker applies for credit
/// repair of a flag (`/worker/repairs`) and an administrator decides (`/admin/repairs`). The same
/// service methods as the JSON API decide; a refused form is shown again with the reason next to
/// the item's form and what was typed.
struct RepairPages {
    let kit: PageKit

    /// A refused item form: which item, what was typed, why.
    struct Failed {
        var target: String
        var form: WebForm
        var error: RegistryError
    }

    static let repairDecisions = ["approve", "refuse"]

    func register(on routes: ProtectedRouter) {
        // The worker: her tenures and their assessments
        routes.get("/worker/tenures", action: "tenures.dispute") { request, context in
            try await workerTenures(kit.scope(request, context), failed: nil)
        }
        routes.post("/worker/tenures/{id}/dispute", action: "tenures.dispute") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            do {
                _ = try await page.registry.tenureDisputes.raise(
                    tenureID: id,
                    reason: form.text("reason"),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.kind != .notFound && error.kind != .forbidden {
                return try await workerTenures(page, failed: Failed(target: id.text, form: form, error: error))
            }
            return page.redirect("/worker/tenures?notice=tenure_disputed")
        }

        // The worker: credit repair
        routes.get("/worker/repairs", action: "repairs.apply") { request, context in
            try await workerRepairs(kit.scope(request, context), failed: nil)
        }
        routes.post("/worker/flags/{id}/repair", action: "repairs.apply") { request, context in
            let page = kit.scope(request, context)
            let id = try context.parameters.uuid("id")
            let form: WebForm
            do {
                form = try await WebForm.read(request, context: context, limit: CasePages.uploadLimit(page))
            } catch let error as RegistryError where error.kind == .tooLarge {
                return try await workerRepairs(page, failed: Failed(target: id.text, form: WebForm(), error: error))
            }
            try page.verifyCSRF(form)
            do {
                let proof = (form.files["proof"] ?? []).first.map { file in
                    CreditRepairService.NewProof(filename: file.filename, contentType: file.contentType, bytes: file.bytes)
                }
                let basis = form.text("basis")
                _ = try await page.registry.repairs.apply(
                    flagID: id,
                    .init(basis: basis, statement: form.optional("statement")),
                    newProof: basis == "proof" ? proof : nil,
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.kind != .notFound && error.kind != .forbidden {
                return try await workerRepairs(page, failed: Failed(target: id.text, form: form, error: error))
            }
            return page.redirect("/worker/repairs?notice=repair_applied")
        }

        // The agency: disputes of its assessments
        routes.get("/agency/tenure-disputes", action: "tenures.answer") { request, context in
            try await agencyDisputes(kit.scope(request, context), failed: nil)
        }
        routes.post("/agency/tenure-disputes/{id}/answer", action: "tenures.answer") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            do {
                try await page.registry.tenureDisputes.answer(id, statement: form.text("statement"), caller: page.caller, logger: context.logger)
            } catch let error as RegistryError where error.kind != .notFound && error.kind != .forbidden {
                return try await agencyDisputes(page, failed: Failed(target: id.text, form: form, error: error))
            }
            return page.redirect("/agency/tenure-disputes?notice=tenure_dispute_answered")
        }

        // Administrators: the repair queue
        routes.get("/admin/repairs", action: "repairs.decide") { request, context in
            let page = kit.scope(request, context)
            let open = try await page.registry.repairs.queue(openOnly: true, caller: page.caller, logger: context.logger)
            let decided = try await page.registry.repairs.queue(openOnly: false, caller: page.caller, logger: context.logger)
            return page.render(
                "admin_repairs",
                ["open": open.map { Self.repairView($0, page: page) }, "decided": decided.prefix(50).map { Self.repairView($0, page: page) }]
            )
        }
        routes.get("/admin/repairs/{id}", action: "repairs.decide") { request, context in
            let page = kit.scope(request, context)
            return try await adminRepair(page, try context.parameters.uuid("id"), form: WebForm(), error: nil)
        }
        routes.post("/admin/repairs/{id}/decision", action: "repairs.decide") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.uuid("id")
            let decision = form.text("decision")
            do {
                guard Self.repairDecisions.contains(decision) else { throw RegistryError.invalid("decision", "Choose a decision.") }
                try await page.registry.repairs.decide(
                    id,
                    approve: decision == "approve",
                    reason: form.text("reason"),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.kind != .notFound && error.kind != .forbidden {
                return try await adminRepair(page, id, form: form, error: error)
            }
            return page.redirect("/admin/repairs?notice=repair_\(decision == "approve" ? "approved" : "refused")")
        }
    }

    // MARK: The worker's tenures

    func workerTenures(_ page: PageScope, failed: Failed?) async throws -> Response {
        guard let workerID = page.caller.principal.workerID else { throw RegistryError.forbidden }
        let logger = page.context.logger
        let file = try await page.registry.workers.file(workerID, caller: page.caller, logger: logger)
        var latest: [String: TenureDisputeService.Dispute] = [:]
        for d in try await page.registry.tenureDisputes.own(caller: page.caller, logger: logger) where latest[d.tenureId] == nil {
            latest[d.tenureId] = d
        }
        let tenures = file.tenures.reversed().map { t -> [String: Any] in
            let dispute = latest[t.id]
            let assessed = t.ethicsRating != nil || t.ethicsNote != nil || t.workAbility != nil || t.healthStatus != nil || t.feedbackSummary != nil
            var item: [String: Any] = [
                "id": t.id, "agency": t.agencyName, "started_on": t.startedOn, "ended_on": t.endedOn ?? "",
                "sealed": t.sealedAt != nil, "assessed": assessed,
                "can_dispute": t.sealedAt != nil && assessed && t.overturnedReason == nil
                    && (dispute?.status != "open" || failed?.target == t.id),
            ]
            if let r = t.ethicsRating { item["rating"] = page.label("rating", String(r)) }
            if let n = t.ethicsNote { item["ethics_note"] = n }
            if let a = t.workAbility { item["work_ability"] = a }
            if let reason = t.overturnedReason { item["overturned"] = ["reason": reason, "on": t.overturnedOn ?? ""] }
            if let dispute {
                var shown: [String: Any] = [
                    "state_label": page.label("tenure_dispute_status", dispute.status), "at": PageScope.dateTime(dispute.createdAt),
                ]
                if let note = dispute.decisionNote { shown["answer"] = note }
                item["dispute"] = shown
            }
            if let failed, failed.target == t.id {
                item["typed"] = failed.form.text("reason")
                item["error"] = page.message(for: failed.error)
            }
            return item
        }
        return page.render("worker_tenures", ["tenures": tenures], status: failed?.error.kind.status ?? .ok)
    }

    // MARK: The worker's credit repair

    func workerRepairs(_ page: PageScope, failed: Failed?) async throws -> Response {
        let logger = page.context.logger
        let records = try await page.registry.repairs.records(caller: page.caller, logger: logger)
        let applications = try await page.registry.repairs.own(caller: page.caller, logger: logger)
        let items = records.map { r -> [String: Any] in
            var item: [String: Any] = [
                "id": r.flagId, "category": page.label("flag_category", r.category), "source": r.source,
                "status_label": page.label("flag_status", r.status), "occurred_on": r.occurredOn,
                "period_text": page.t.text("due_process.period_\(r.period)", ["date": r.periodEndsOn ?? ""]),
                "period_open": r.period == "eligible",
                "can_apply": r.proofPossible || r.period == "eligible",
            ]
            if let on = r.repairedOn { item["repaired_on"] = on }
            if r.applicationOpen { item["application_open"] = true }
            if let failed, failed.target == r.flagId {
                item["can_apply"] = true
                item["typed_statement"] = failed.form.text("statement")
                item["basis_proof"] = failed.form.text("basis") == "proof"
                item["error"] = page.message(for: failed.error)
            } else {
                item["basis_proof"] = r.period != "eligible"
            }
            return item
        }
        let shown = applications.map { a -> [String: Any] in
            var item = Self.repairView(a, page: page)
            if let reason = a.decisionReason { item["reason"] = reason }
            return item
        }
        return page.render(
            "worker_repairs",
            [
                "records": items, "applications": shown,
                "max_mb": String(page.registry.policies.revocation.evidenceMaxBytes / 1_048_576),
            ],
            status: failed?.error.kind.status ?? .ok
        )
    }

    // MARK: The agency's answers

    func agencyDisputes(_ page: PageScope, failed: Failed?) async throws -> Response {
        let disputes = try await page.registry.tenureDisputes.forAgency(caller: page.caller, logger: page.context.logger)
        let items = disputes.map { d -> [String: Any] in
            var item = Self.tenureDisputeView(d, page: page)
            item["can_answer"] = d.agencyStatement == nil
            if let failed, failed.target == d.id {
                item["typed"] = failed.form.text("statement")
                item["error"] = page.message(for: failed.error)
            }
            return item
        }
        return page.render("agency_tenure_disputes", ["disputes": items], status: failed?.error.kind.status ?? .ok)
    }

    // MARK: Administrators

    static func repairView(_ a: CreditRepairService.Application, page: PageScope) -> [String: Any] {
        var item: [String: Any] = [
            "id": a.id, "worker_id": a.workerId, "worker_name": a.workerName, "source": a.source,
            "category": page.label("flag_category", a.category), "flag_status": page.label("flag_status", a.flagStatus),
            "occurred_on": a.occurredOn, "basis": page.label("repair_basis", a.basis), "status": a.status,
            "status_label": page.label("repair_status", a.status), "applied_at": PageScope.dateTime(a.createdAt),
        ]
        if let s = a.statement { item["statement"] = s }
        if let p = a.proofId { item["proof"] = ["id": p, "filename": a.proofFilename ?? ""] }
        if let at = a.decidedAt { item["decided_at"] = PageScope.dateTime(at) }
        if let r = a.decisionReason { item["decision_reason"] = r }
        return item
    }

    func adminRepair(_ page: PageScope, _ id: UUID, form: WebForm, error: RegistryError?) async throws -> Response {
        let a = try await page.registry.repairs.get(id, caller: page.caller, logger: page.context.logger)
        var values = page.formValues(form, fields: ["reason"], error: error)
        values["repair"] = Self.repairView(a, page: page)
        values["is_open"] = a.status == "open"
        values["decisions"] = Self.repairDecisions.map { ["value": $0, "label": page.label("repair_decision", $0), "danger": $0 == "refuse"] }
        return page.render("admin_repair", values, status: error?.kind.status ?? .ok)
    }

    static func tenureDisputeView(_ d: TenureDisputeService.Dispute, page: PageScope) -> [String: Any] {
        var item: [String: Any] = [
            "id": d.id, "kind": "tenure", "worker_id": d.workerId, "worker_name": d.workerName, "agency": d.agencyName,
            "period": d.startedOn + " – " + (d.endedOn ?? ""), "reason": d.reason, "raised_at": PageScope.dateTime(d.createdAt),
        ]
        if let r = d.ethicsRating { item["rating"] = page.label("rating", String(r)) }
        if let n = d.ethicsNote { item["ethics_note"] = n }
        if let a = d.workAbility { item["work_ability"] = a }
        if let s = d.agencyStatement {
            item["statement"] = s
            if let at = d.agencyAnsweredAt { item["answered_at"] = PageScope.dateTime(at) }
        }
        return item
    }
}
