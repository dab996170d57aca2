import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// The agency's credit commitments (信用承诺) as a page: the texts in force, who signed and
/// when, a form for each one not yet accepted, and every commitment recorded for the agency.
struct CommitmentPages {
    let kit: PageKit

    func register(on routes: ProtectedRouter) {
        routes.get("/agency/commitments", action: "commitments.read") { request, context in
            let page = kit.scope(request, context)
            return try await Self.render(page, form: WebForm(), error: nil)
        }

        routes.post("/agency/commitments", action: "commitments.accept") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                _ = try await page.registry.commitments.accept(
                    .init(kind: form.text("kind"), version: form.text("version"), representative: form.optional("representative")),
                    caller: page.caller,
                    logger: context.logger
                )
                return page.redirect("/agency/commitments?notice=commitment_\(form.text("kind") == "agency" ? "signed" : "accepted")")
            } catch let error as RegistryError {
                return try await Self.render(page, form: form, error: error)
            }
        }
    }

    static func render(_ page: PageScope, form: WebForm, error: RegistryError?) async throws -> Response {
        let view = try await page.registry.commitments.view(caller: page.caller, logger: page.context.logger)
        var values = page.formValues(form, fields: ["representative"], error: error)
        let formatter = ISO8601DateFormatter()
        func item(_ i: CommitmentService.Item) -> [String: Any] {
            var v: [String: Any] = [
                "kind": i.kind, "version": i.version, "text": page.language == .zh ? i.zh : i.en, "accepted": i.accepted,
            ]
            v["representative"] = i.representative
            v["by"] = i.acceptedBy
            v["at"] = i.acceptedAt.map { formatter.string(from: $0) }
            return v
        }
        values["agency_commitment"] = item(view.agency)
        values["staff_commitment"] = item(view.staff)
        values["history"] = view.history.map { e -> [String: Any] in
            var v: [String: Any] = [
                "kind": page.t.text("commitments.kind_" + e.kind), "version": e.version, "by": e.by, "at": formatter.string(from: e.acceptedAt),
            ]
            v["representative"] = e.representative
            return v
        }
        return page.render("agency_commitments", values, status: error?.kind.status ?? .ok)
    }
}
