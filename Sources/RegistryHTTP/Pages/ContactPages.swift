import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Anyone signed in changes her own phone number or e-mail address: the new one is asked for, a
/// code goes there, and the change takes effect when the code is entered here.
struct ContactPages {
    let kit: PageKit

    static let fields = ["phone", "email", "code"]

    func register(on routes: ProtectedRouter) {
        routes.get("/account/contact", action: "auth.contact") { request, context in
            let page = kit.scope(request, context)
            var notice: String?
            switch request.uri.queryParameters["notice"].map(String.init) {
            case "sent"?: notice = page.t.text("contact.sent")
            case "changed"?: notice = page.t.text("contact.changed")
            case "verified"?: notice = page.t.text("contact.verified_notice")
            case "verify_sent"?: notice = page.t.text("contact.verify_sent")
            case "phone_not_verified"?: notice = page.t.text("contact.verify_needed")
            default: break
            }
            return try await Self.render(page, page.formValues(WebForm(), fields: Self.fields), notice: notice, status: .ok, context: context)
        }

        routes.post("/account/contact", action: "auth.contact") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let own: Bool
            do {
                let current = try await page.registry.contacts.current(caller: page.caller, logger: context.logger)
                own = current.phone != nil && RegistryDomain.Contact.normalizedPhone(form.text("phone")) == current.phone
                _ = try await page.registry.contacts.requestChange(
                    phone: form.optional("phone"),
                    email: form.optional("email"),
                    caller: page.caller,
                    logger: context.logger
                )
            } catch let error as RegistryError {
                return try await Self.render(
                    page,
                    page.formValues(form, fields: Self.fields, error: error),
                    status: error.kind.status,
                    context: context
                )
            }
            return page.redirect("/account/contact?notice=\(own ? "verify_sent" : "sent")")
        }

        routes.post("/account/contact/confirm", action: "auth.contact") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let changed: Bool
            do {
                let before = try await page.registry.contacts.current(caller: page.caller, logger: context.logger)
                let after = try await page.registry.contacts.confirmChange(code: form.text("code"), caller: page.caller, logger: context.logger)
                changed = before.phone != after.phone || before.email != after.email
            } catch let error as RegistryError {
                return try await Self.render(
                    page,
                    page.formValues(form, fields: Self.fields, error: error),
                    status: error.kind.status,
                    context: context
                )
            }
            return page.redirect("/account/contact?notice=\(changed ? "changed" : "verified")")
        }
    }

    static func render(
        _ page: PageScope,
        _ values: [String: Any],
        notice: String? = nil,
        status: HTTPResponse.Status,
        context: AppRequestContext
    ) async throws -> Response {
        var values = values
        let current = try await page.registry.contacts.current(caller: page.caller, logger: context.logger)
        values["phone"] = current.phone ?? page.t.text("contact.none")
        if let phone = current.phone {
            values["phone_state"] = page.t.text(current.phoneVerified ? "contact.verified" : "contact.unverified")
            if !current.phoneVerified { values["verify_phone"] = phone }
        }
        values["email"] = current.email ?? page.t.text("contact.none")
        if let notice { values["notice"] = notice }
        return page.render("account_contact", values, status: status)
    }
}
