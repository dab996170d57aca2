import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Transfers of custody between agencies (续接): asking for a worker by her ID number (POST
/// only), entering her consent code, sealing one's tenure with a final assessment, cancelling.
struct TransferPages {
    let kit: PageKit

    static let sealFields = WorkerRecordPages.assessmentFields

    func register(on routes: ProtectedRouter) {
        routes.get("/agency/transfers", action: "transfers.read") { request, context in
            let page = kit.scope(request, context)
            let transfers = try await page.registry.transfers.list(openOnly: false, caller: page.caller, logger: context.logger)
                .map { Self.view($0, page: page) }
            return page.render(
                "transfers",
                [
                    "incoming": transfers.filter { $0["incoming"] as? Bool == true },
                    "outgoing": transfers.filter { $0["incoming"] as? Bool != true },
                ]
            )
        }

        routes.get("/agency/transfers/new", action: "transfers.request") { request, context in
            let page = kit.scope(request, context)
            return page.render("transfer_new", page.formValues(WebForm(), fields: ["id_number"]))
        }

        routes.post("/agency/transfers", action: "transfers.request") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                let result = try await page.registry.transfers.request(
                    idNumber: form.text("id_number"),
                    caller: page.caller,
                    logger: context.logger
                )
                let notice = result.codeSent ? "transfer_requested" : "transfer_requested_no_phone"
                return page.redirect("/agency/transfers/\(result.transfer.id)?notice=\(notice)")
            } catch let error as RegistryError where error.kind != .forbidden {
                return page.render("transfer_new", page.formValues(form, fields: ["id_number"], error: error), status: error.kind.status)
            }
        }

        routes.get("/agency/transfers/{id}", action: "transfers.read") { request, context in
            let page = kit.scope(request, context)
            let transfer = try await page.registry.transfers.get(try context.parameters.uuid("id"), caller: page.caller, logger: context.logger)
            return Self.detail(page, transfer, form: WebForm(), error: nil)
        }

        routes.post("/agency/transfers/{id}/consent", action: "transfers.consent") { request, context in
            try await act(request, context, notice: "transfer_consented") { page, id, form in
                _ = try await page.registry.transfers.consent(id, code: form.text("code"), caller: page.caller, logger: page.context.logger)
            }
        }

        routes.post("/agency/transfers/{id}/resend-code", action: "transfers.resend") { request, context in
            try await act(request, context, notice: "code_resent") { page, id, _ in
                _ = try await page.registry.transfers.resendCode(id, caller: page.caller, logger: page.context.logger)
            }
        }

        routes.post("/agency/transfers/{id}/cancel", action: "transfers.cancel") { request, context in
            try await act(request, context, notice: "transfer_cancelled") { page, id, form in
                _ = try await page.registry.transfers.close(
                    id,
                    .cancel,
                    reason: form.optional("reason"),
                    caller: page.caller,
                    logger: page.context.logger
                )
            }
        }

        routes.post("/agency/transfers/{id}/seal", action: "transfers.seal") { request, context in
            try await act(request, context, notice: "transfer_sealed") { page, id, form in
                _ = try await page.registry.transfers.seal(
                    id,
                    final: try WorkerRecordPages.assessment(form, page: page),
                    caller: page.caller,
                    logger: page.context.logger
                )
            }
        }
    }

    /// Runs one step on a transfer, then shows it again: with a notice when it worked, or with
    /// the error next to the field (and what was typed) when it did not.
    func act(
        _ request: Request,
        _ context: AppRequestContext,
        notice: String,
        _ step: (PageScope, UUID, WebForm) async throws -> Void
    ) async throws -> Response {
        let page = kit.scope(request, context)
        let form = try await page.form()
        let id = try context.parameters.uuid("id")
        do {
            try await step(page, id, form)
        } catch let error as RegistryError where error.kind != .notFound {
            let transfer = try await page.registry.transfers.get(id, caller: page.caller, logger: context.logger)
            return Self.detail(page, transfer, form: form, error: error)
        }
        return page.redirect("/agency/transfers/\(id.text)?notice=\(notice)")
    }

    static func detail(_ page: PageScope, _ transfer: TransferService.View, form: WebForm, error: RegistryError?) -> Response {
        var values = page.formValues(form, fields: ["code", "reason"] + sealFields, error: error)
        values["transfer"] = view(transfer, page: page)
        values["ratings"] = page.ratingChoices(selected: form["ethics_rating"])
        // Sealing needs the final ethics rating (the service refuses without one).
        values["rating_required"] = true
        return page.render("transfer", values, status: error?.kind.status ?? .ok)
    }

    /// A transfer as the caller's agency sees it: which way it goes and what it may do now.
    static func view(_ t: TransferService.View, page: PageScope) -> [String: Any] {
        let mine = page.caller.agencyUUID?.text
        let incoming = t.toAgencyId == mine
        let outgoing = t.fromAgencyId == mine
        let open = t.status == TransferStatus.requested.rawValue || t.status == TransferStatus.consented.rawValue
        var v: [String: Any] = [
            "id": t.id, "worker_id": t.workerId, "worker_name": t.workerName ?? page.t.text("transfers.name_after_consent"),
            "status": t.status,
            "status_label": page.label("transfer_status", t.status), "requested_at": PageScope.dateTime(t.requestedAt),
            "incoming": incoming, "outgoing": outgoing,
            "direction": page.t.text(incoming ? "transfers.incoming_one" : "transfers.outgoing_one"),
            "can_consent": incoming && t.allowed.contains(TransferEvent.consent.rawValue),
            "can_resend": incoming && t.status == TransferStatus.requested.rawValue,
            "can_cancel": incoming && t.allowed.contains(TransferEvent.cancel.rawValue),
            "can_seal": outgoing && t.allowed.contains(TransferEvent.seal.rawValue),
            "party": incoming || outgoing,
            "worker_link": (outgoing && open) || (incoming && t.status == TransferStatus.completed.rawValue),
        ]
        if let d = t.consentedAt { v["consented_at"] = PageScope.dateTime(d) }
        if let m = t.consentMethod { v["consent_method"] = page.label("consent_method", m) }
        if let d = t.sealDeadline { v["seal_deadline"] = PageScope.dateTime(d) }
        if let d = t.completedAt { v["completed_at"] = PageScope.dateTime(d) }
        if let h = t.completedHow { v["completed_how"] = page.label("completed_how", h) }
        if let r = t.closeReason { v["close_reason"] = r }
        return v
    }
}
