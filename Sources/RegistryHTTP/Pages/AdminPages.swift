import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Administrators: the agencies awaiting approval, and deciding on one.
struct AdminPages {
    let kit: PageKit

    static let statuses = ["pending", "approved", "suspended", "rejected"]

    /// The decisions offered as buttons for an agency in `status`. Presentation only: the
    /// service decides, and answers 409 to anything else.
    static func offered(for status: String) -> [AgencyService.Decision] {
        switch status {
        case "pending": [.approve, .reject]
        case "approved": [.suspend]
        case "suspended": [.reinstate]
        default: []
        }
    }

    func register(on routes: ProtectedRouter) {
        routes.get("/admin", action: "agencies.list") { request, context in
            let page = kit.scope(request, context)
            let agencies = try await page.registry.agencies.list(status: nil, logger: context.logger)
            let counts = Self.statuses.map { status in
                [
                    "status": status, "label": page.label("agency_status", status),
                    "count": String(agencies.filter { $0.status == status }.count),
                ]
            }
            let nodes = try await page.registry.nodes.live(logger: context.logger)
            let me = page.registry.nodes.identity.id
            return page.render(
                "admin_home",
                [
                    "counts": counts,
                    "pending": String(agencies.filter { $0.status == "pending" }.count),
                    "nodes": nodes.map { node in
                        [
                            "id": node.id, "version": node.version, "address": node.address, "pid": String(node.pid),
                            "started": AuditPages.dateTime(node.startedAt), "seen": AuditPages.dateTime(node.lastSeenAt),
                            "database_host": node.databaseHost ?? "", "cluster": node.databaseHost != nil, "this": node.id == me,
                        ] as [String: Any]
                    },
                    "node_count": String(nodes.count),
                ]
            )
        }

        routes.get("/admin/agencies", action: "agencies.list") { request, context in
            let page = kit.scope(request, context)
            let status = page.query("status").flatMap { Self.statuses.contains($0) ? $0 : nil } ?? "pending"
            let agencies = try await page.registry.agencies.list(status: status, logger: context.logger)
            let tabs = Self.statuses.map { ["status": $0, "label": page.label("agency_status", $0), "current": $0 == status] }
            return page.render(
                "admin_agencies",
                [
                    "tabs": tabs, "status_label": page.label("agency_status", status),
                    "agencies": agencies.map { Self.view($0, page: page) },
                ]
            )
        }

        routes.get("/admin/agencies/{id}", action: "agencies.read") { request, context in
            let page = kit.scope(request, context)
            let agency = try await page.registry.agencies.get(try context.parameters.id("id"), caller: page.caller, logger: context.logger)
            return detail(page, agency: agency, form: WebForm(), error: nil)
        }

        routes.post("/admin/agencies/{id}/decision", action: "agencies.decide") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.id("id", as: AgencyID.self)
            guard let decision = form["decision"].flatMap(AgencyService.Decision.init(rawValue:)) else {
                throw RegistryError.invalid("decision", "Choose a decision.")
            }
            do {
                _ = try await page.registry.agencies.decide(
                    id,
                    decision,
                    reason: form.optional("reason"),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError where error.kind == .badRequest || error.kind == .conflict {
                let agency = try await page.registry.agencies.get(id, caller: page.caller, logger: context.logger)
                return detail(page, agency: agency, form: form, error: error)
            }
            return page.redirect("/admin/agencies/\(id.text)?notice=agency_\(decision.rawValue)")
        }
    }

    func detail(_ page: PageScope, agency: AgencyService.Agency, form: WebForm, error: RegistryError?) -> Response {
        var values = page.formValues(form, fields: ["reason"], error: error)
        values["agency"] = Self.view(agency, page: page)
        values["has_decisions"] = !Self.offered(for: agency.status).isEmpty
        values["decisions"] = Self.offered(for: agency.status).map {
            ["value": $0.rawValue, "label": page.label("decision", $0.rawValue), "danger": $0 == .reject || $0 == .suspend]
        }
        return page.render("admin_agency", values, status: error?.kind.status ?? .ok)
    }

    static func view(_ a: AgencyService.Agency, page: PageScope) -> [String: Any] {
        var view: [String: Any] = [
            "id": a.id.text, "name": a.name, "uscc": a.uscc, "region_code": a.regionCode, "contact_name": a.contactName,
            "status": a.status, "status_label": page.label("agency_status", a.status), "applied_at": PageScope.dateTime(a.appliedAt),
        ]
        if let phone = a.contactPhone { view["contact_phone"] = phone }
        if let email = a.contactEmail { view["contact_email"] = email }
        if let reason = a.statusReason { view["status_reason"] = reason }
        return view
    }
}
