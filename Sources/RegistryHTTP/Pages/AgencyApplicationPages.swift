import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// An agency applies to join the registry (anonymous).
struct AgencyApplicationPages {
    let kit: PageKit

    static let fields = ["name", "uscc", "region_code", "representative", "contact_name", "contact_phone", "contact_email"]

    func register(on routes: ProtectedRouter) {
        routes.get("/apply", action: "agencies.apply") { request, context in
            let page = kit.scope(request, context)
            return page.render("apply", Self.values(page, page.formValues(WebForm(), fields: Self.fields)))
        }

        routes.post("/apply", action: "agencies.apply") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let application = AgencyService.Application(
                name: form.text("name"),
                uscc: form.text("uscc").trimmingWhitespace().uppercased(),
                regionCode: form.text("region_code"),
                contactName: form.text("contact_name"),
                contactPhone: form.optional("contact_phone"),
                contactEmail: form.text("contact_email"),
                password: form.text("password"),
                representative: form.text("representative"),
                commitmentVersion: form.text("commitment_version")
            )
            do {
                _ = try await page.registry.agencies.apply(
                    application,
                    caller: page.caller,
                    clientAddress: context.clientAddress,
                    logger: context.logger
                )
            } catch let error as RegistryError {
                return page.render(
                    "apply",
                    Self.values(page, page.formValues(form, fields: Self.fields, secrets: ["password"], error: error)),
                    status: error.kind.status
                )
            }
            return page.render("apply_done", ["email": form.text("contact_email").trimmingWhitespace()])
        }
    }

    /// The password hint names the policy's minimum length; the agency's credit commitment in
    /// force is shown for its legal representative to sign.
    static func values(_ page: PageScope, _ values: [String: Any]) -> [String: Any] {
        var values = values
        let commitment = page.registry.policies.commitments.agency
        values["commitment_text"] = commitment.text(language: page.language == .zh ? "zh" : "en")
        values["commitment_version"] = commitment.version
        values["password_hint"] = page.t.text("apply.password_hint", ["min": String(page.registry.policies.authentication.passwordMinLength)])
        return values
    }
}
