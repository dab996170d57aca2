import Foundation
import HTTPTypes
import Hummingbird
import RegistryDomain
import RegistryServices

/// The start page, signing in and out, the language switch and the static files.
struct SessionPages {
    let kit: PageKit

    static let signInFields = ["account", "next"]

    func register(on routes: ProtectedRouter) {
        routes.get("/", action: "web.home") { request, context in
            let page = kit.scope(request, context)
            switch context.principal.role {
            case .admin: return page.redirect("/admin")
            case .agencyStaff:
                // At first sign-in, and after a new version: the commitments before anything else.
                let owed = context.session?.owedCommitments ?? []
                return page.redirect(owed.isEmpty ? "/agency" : "/agency/commitments?notice=commitment_required")
            case .employer: return page.redirect("/employer")
            case .worker: return page.redirect("/worker")
            case .anonymous: return page.render("home")
            default: return page.render("home_user")
            }
        }

        routes.get("/signin", action: "auth.login") { request, context in
            let page = kit.scope(request, context)
            var form = WebForm()
            form.append("next", PageScope.safeLocalPath(page.query("next")))
            return page.render("signin", page.formValues(form, fields: Self.signInFields))
        }

        routes.post("/signin", action: "auth.login") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            let account = form.text("account").trimmingWhitespace()
            do {
                let identifier = try AuthService.Identifier.from(
                    email: account.contains("@") ? account : nil,
                    phone: account.contains("@") ? nil : account
                )
                let signedIn = try await page.registry.auth.login(
                    identifier,
                    password: form.text("password"),
                    clientAddress: context.clientAddress,
                    presentedToken: context.presentedToken,
                    requestID: context.requestID,
                    logger: context.logger
                )
                // Staff who owe a credit commitment read and accept it before anything else.
                let owed = !signedIn.session.owedCommitments.isEmpty
                var response = page.redirect(owed ? "/agency/commitments?notice=commitment_required" : PageScope.safeLocalPath(form["next"]))
                let lifetime = page.registry.policies.authentication.sessionLifetimeHours * 3600
                response.setCookie(AuthRoutes(registry: page.registry).sessionCookie(signedIn.token, maxAge: lifetime))
                return response
            } catch let error as RegistryError {
                var response = page.render(
                    "signin",
                    page.formValues(
                        form,
                        fields: Self.signInFields,
                        secrets: ["password"],
                        error: error,
                        rename: ["email": "account", "phone": "account"]
                    ),
                    status: error.kind.status
                )
                if let retry = error.details["retry_after"] { response.headers[.retryAfter] = retry }
                return response
            }
        }

        routes.post("/signout", action: "auth.logout") { request, context in
            let page = kit.scope(request, context)
            _ = try await page.form()
            guard let session = context.session else { throw RegistryError.unauthenticated }
            try await page.registry.auth.logout(session, requestID: context.requestID, logger: context.logger)
            var response = page.redirect("/signin?notice=signed_out")
            response.setCookie(AuthRoutes(registry: page.registry).sessionCookie("", maxAge: 0))
            return response
        }

        // The remembered language switch: a plain link, so it works everywhere without a form.
        routes.get("/lang/{code}", action: "web.home") { request, context in
            let page = kit.scope(request, context)
            guard let language = context.parameters.get("code").flatMap(Language.init(rawValue:)) else {
                throw RegistryError.notFound("Language")
            }
            var response = page.redirect(PageScope.safeLocalPath(page.query("next"), afterSignIn: false))
            response.setCookie(
                Cookie(
                    name: Language.cookieName,
                    value: language.rawValue,
                    maxAge: 365 * 24 * 3600,
                    path: "/",
                    secure: page.registry.configuration.secureCookies,
                    httpOnly: true,
                    sameSite: .lax
                )
            )
            return response
        }

        routes.get("/static/{name}", action: "web.home") { request, context in
            guard let name = context.parameters.get("name"), let response = kit.assets.response(name: name, request: request) else {
                throw RegistryError.notFound("File")
            }
            return response
        }
    }
}
