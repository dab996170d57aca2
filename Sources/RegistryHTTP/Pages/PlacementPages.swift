import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Agency staff place their workers with registered households, follow the placements
/// (cancel one not yet confirmed, end one in progress), and from a worker's file start her own
/// account or have a consent code sent to her phone. The same services and actions as the API:
/// engagements.place / engagements.read / engagements.update, workers.account,
/// consents.issue_for_worker.
struct PlacementPages {
    let kit: PageKit

    static let placeFields = ["employer", "category", "starts_on"]
    /// The service names the employer's contact by kind; the form has one field for either.
    static let placeRename = ["employer_email": "employer", "employer_phone": "employer", "email": "employer", "phone": "employer"]
    /// The events an agency takes on a placement, and the notice after each.
    static let events = [("cancel", "placement_cancelled"), ("end", "placement_ended")]

    func register(on routes: ProtectedRouter) {
        let access = routes.access

        routes.get("/agency/placements", action: "engagements.read") { request, context in
            let page = kit.scope(request, context)
            return try await Self.list(page, error: nil)
        }

        routes.get("/agency/workers/{id}/placements/new", action: "engagements.place") { request, context in
            let page = kit.scope(request, context)
            let file = try await page.registry.workers.file(try context.parameters.id("id"), caller: page.caller, logger: context.logger)
            var form = WebForm()
            form.append("starts_on", page.registry.clock.today.iso)
            if let first = file.serviceCategories.first { form.append("category", first) }
            return Self.placeForm(page, file, form: form, error: nil)
        }

        routes.post("/agency/workers/{id}/placements", action: "engagements.place") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let id = try context.parameters.id("id", as: WorkerID.self)
            // One field for the household's e-mail or phone: an address has an @.
            let contact = form.optional("employer")
            let isEmail = contact?.contains("@") == true
            let placement = EngagementService.Placement(
                workerId: id.uuid,
                employerEmail: isEmail ? contact : nil,
                employerPhone: isEmail ? nil : contact,
                category: form.text("category"),
                startsOn: form.text("starts_on")
            )
            do {
                _ = try await page.registry.engagements.place(placement, caller: page.caller, logger: context.logger)
            } catch let error as RegistryError where Self.showsOnForm(error) {
                let file = try await page.registry.workers.file(id, caller: page.caller, logger: context.logger)
                return Self.placeForm(page, file, form: form, error: error)
            }
            return page.redirect("/agency/placements?notice=placement_proposed")
        }

        for (event, notice) in Self.events {
            routes.post("/agency/placements/{id}/\(event)", action: "engagements.update") { request, context in
                let page = kit.scope(request, context)
                _ = try await page.form()
                do {
                    _ = try await page.registry.engagements.transition(
                        try context.parameters.uuid("id"),
                        event,
                        caller: page.caller,
                        logger: context.logger
                    )
                } catch let error as RegistryError where error.kind == .conflict {
                    // Changed meanwhile (the household confirmed it, say): the list as it is now.
                    return try await Self.list(page, error: error)
                }
                return page.redirect("/agency/placements?notice=\(notice)")
            }
        }

        routes.post("/agency/workers/{id}/account", action: "workers.account") { request, context in
            try await fileButton(request, context, access: access, notice: "account_started") { page, id in
                _ = try await page.registry.accounts.startWorkerAccount(
                    id,
                    caller: page.caller,
                    logger: page.context.logger
                )
            }
        }

        routes.post("/agency/workers/{id}/consents", action: "consents.issue_for_worker") { request, context in
            try await fileButton(request, context, access: access, notice: "consent_sent") { page, id in
                _ = try await page.registry.consents.issueByAgency(
                    id,
                    caller: page.caller,
                    logger: page.context.logger
                )
            }
        }
    }

    /// An error the placement form shows (next to its field, or at the top): bad input, no such
    /// employer, a worker who cannot be placed. A missing worker or a refusal is a page of its own.
    static func showsOnForm(_ error: RegistryError) -> Bool {
        switch error.kind {
        case .badRequest, .conflict: true
        case .notFound: error.field != nil
        default: false
        }
    }

    /// A button of the worker's file page: back to the file with a notice, or with the reason it
    /// did not work (no phone, her account already active, the agency suspended).
    func fileButton(
        _ request: Request,
        _ context: AppRequestContext,
        access: AccessPolicy,
        notice: String,
        _ step: (PageScope, WorkerID) async throws -> Void
    ) async throws -> Response {
        let page = kit.scope(request, context)
        _ = try await page.form()
        let id = try context.parameters.id("id", as: WorkerID.self)
        do {
            try await step(page, id)
        } catch let error as RegistryError where error.kind == .conflict || error.kind == .badRequest {
            return try await WorkerPages.filePage(page, id, access: access, error: error)
        }
        return page.redirect("/agency/workers/\(id.text)?notice=\(notice)")
    }

    static func placeForm(_ page: PageScope, _ file: WorkerService.File, form: WebForm, error: RegistryError?) -> Response {
        var values = page.formValues(form, fields: placeFields, error: error, rename: placeRename)
        values["worker"] = ["id": file.id, "name": file.fullName]
        // Her own categories first, then the others.
        let categories = file.serviceCategories + page.registry.policies.sectors.categoryIDs.filter { !file.serviceCategories.contains($0) }
        values["categories"] = page.choices("category", categories, selected: [form.text("category")])
        values["latest"] = page.registry.clock.today.adding(days: 365).iso
        return page.render("placement_new", values, status: error?.kind.status ?? .ok)
    }

    /// The agency's placements: those awaiting the household or in progress, then the others.
    static func list(_ page: PageScope, error: RegistryError?) async throws -> Response {
        guard page.context.principal.role == .agencyStaff else { throw RegistryError.forbidden }
        let engagements = try await page.registry.engagements.list(caller: page.caller, logger: page.context.logger)
        let views = engagements.map { view($0, page: page) }
        var values: [String: Any] = [
            "open": views.filter { $0["is_open"] as? Bool == true },
            "past": views.filter { $0["is_open"] as? Bool != true },
        ]
        if let error { values["form_error"] = ["message": page.message(for: error)] }
        return page.render("placements", values, status: error?.kind.status ?? .ok)
    }

    /// A placement as its agency sees it, with the steps the engagement's state allows an agency.
    static func view(_ e: EngagementService.Engagement, page: PageScope) -> [String: Any] {
        let status = EngagementStatus(rawValue: e.status)
        let allowed = status.map { EngagementStatus.allowed(from: $0) } ?? []
        let canCancel = allowed.contains("cancel")
        let canEnd = allowed.contains("end")
        var v: [String: Any] = [
            "id": e.id.text, "worker_id": e.workerID.text, "worker_name": e.workerName, "employer_name": e.employerName,
            "category": page.label("category", e.category), "starts_on": e.startsOn, "status": e.status,
            "status_label": page.label("placement_status", e.status),
            "can_cancel": canCancel, "can_end": canEnd, "has_actions": canCancel || canEnd, "is_open": !allowed.isEmpty,
        ]
        if let end = e.endsOn { v["ends_on"] = end }
        if e.householdWarning {
            v["household_warning"] = true
            v["worker_accepted"] = e.workerAccepted
            v["employer_id"] = e.employerID.text
        }
        return v
    }
}
