import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Administrators' due-process pages: their declared ties (recusal), finding a worker by name, ID
/// number or reference, and opening her whole file with a stated purpose (an inquiry she sees).
struct DueProcessPages {
    let kit: PageKit

    static let tieFields = ["target", "target_id", "description"]

    func register(on routes: ProtectedRouter) {
        routes.get("/admin/ties", action: "ties.declare") { request, context in
            let page = kit.scope(request, context)
            return try await tiesPage(page, form: WebForm(), error: nil)
        }

        routes.post("/admin/ties", action: "ties.declare") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                let target = UUID(uuidString: form.text("target_id"))
                guard let target else { throw RegistryError.invalid("target_id", "Paste the id of the worker, agency or case.") }
                let kind = form.text("target")
                _ = try await page.registry.cases.declareTie(
                    .init(
                        workerId: kind == "worker" ? target : nil,
                        agencyId: kind == "agency" ? target : nil,
                        caseId: kind == "case" ? target : nil,
                        description: form.text("description")
                    ),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError {
                return try await tiesPage(page, form: form, error: error)
            }
            return page.redirect("/admin/ties?notice=tie_declared")
        }

        routes.post("/admin/ties/{id}/end", action: "ties.declare") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                try await page.registry.cases.endTie(
                    try context.parameters.uuid("id"),
                    reason: form.text("reason"),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.kind != .notFound {
                return try await tiesPage(page, form: WebForm(), error: error)
            }
            return page.redirect("/admin/ties?notice=tie_ended")
        }

        routes.get("/admin/workers", action: "workers.find") { request, context in
            let page = kit.scope(request, context)
            return page.render("admin_workers", Self.searchValues(page, form: WebForm(), error: nil, found: nil))
        }

        // A POST, so that an ID number searched for is never in a URL, a log or the history.
        routes.post("/admin/workers", action: "workers.find") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                let found = try await page.registry.workers.find(
                    .init(name: form.optional("name"), idNumber: form.optional("id_number"), reference: form.optional("reference")),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.render("admin_workers", Self.searchValues(page, form: form, error: nil, found: found))
            } catch let error as RegistryError {
                return page.render("admin_workers", Self.searchValues(page, form: form, error: error, found: nil), status: error.kind.status)
            }
        }

        routes.get("/admin/workers/{id}", action: "workers.read") { request, context in
            let page = kit.scope(request, context)
            let id = try context.parameters.id("id", as: WorkerID.self)
            let purpose = request.uri.queryParameters["purpose"].map(String.init)
            let report: ReportService.Report
            do {
                report = try await page.registry.reports.report(id, purpose: purpose, caller: page.caller, logger: context.logger)
            } catch let error as RegistryError where error.field == "purpose" {
                return page.render(
                    "admin_worker_purpose",
                    ["worker_id": id.text, "purposes": Self.purposes(page), "error": page.message(for: error)],
                    status: .badRequest
                )
            }
            var values: [String: Any] = ["report": EmployerPages.reportView(report, page: page)]
            values["purpose"] = page.label("inquiry_purpose", purpose ?? "")
            values["cases"] = try await CasePages.list(try await CasePages.about(id, page: page), page: page)
            return page.render("admin_worker", values)
        }
    }

    static func purposes(_ page: PageScope) -> [[String: Any]] {
        AdminReadPurpose.allCases.map { ["value": $0.rawValue, "label": page.label("inquiry_purpose", $0.rawValue)] }
    }

    static func searchValues(_ page: PageScope, form: WebForm, error: RegistryError?, found: [WorkerService.Found]?) -> [String: Any] {
        // The ID number typed is never shown again, not even in the form.
        var values = page.formValues(form, fields: ["name", "reference"], secrets: ["id_number"], error: error)
        values["purposes"] = purposes(page)
        if let found {
            values["searched"] = true
            values["found"] = found.map { f -> [String: Any] in
                [
                    "id": f.id, "name": f.fullName, "masked": f.idNumberMasked, "agency": f.agencyName,
                    "status": page.label("worker_status", f.status),
                ]
            }
        }
        return values
    }

    func tiesPage(_ page: PageScope, form: WebForm, error: RegistryError?) async throws -> Response {
        let ties = try await page.registry.cases.ties(caller: page.caller, logger: page.context.logger)
        var values = page.formValues(form, fields: Self.tieFields, error: error)
        values["targets"] = page.choices("tie_target", ["worker", "agency", "case"], selected: [form.optional("target") ?? "worker"])
        values["ties"] = ties.map { t -> [String: Any] in
            var row: [String: Any] = [
                "id": t.id, "admin": t.adminName, "description": t.description, "declared_at": PageScope.dateTime(t.declaredAt),
                "mine": t.mine && t.endedAt == nil,
                "target": t.workerId.map { page.t.text("ties.worker_ref", ["id": $0]) } ?? t.agencyId.map {
                    page.t.text("ties.agency_ref", ["id": $0])
                }
                    ?? t.caseId.map { page.t.text("ties.case_ref", ["id": $0]) } ?? "",
            ]
            if let ended = t.endedAt { row["ended"] = PageScope.dateTime(ended) + (t.endReason.map { " · \($0)" } ?? "") }
            return row
        }
        if let notice = page.request.uri.queryParameters["notice"], ["tie_declared", "tie_ended"].contains(String(notice)) {
            values["notice"] = page.t.text("ties.\(notice)")
        }
        return page.render("admin_ties", values, status: error?.kind.status ?? .ok)
    }
}
