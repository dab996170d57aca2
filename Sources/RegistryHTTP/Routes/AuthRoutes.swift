import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Sign-in, sign-out, the current account, password change, disabling accounts.
struct AuthRoutes {
    let registry: Registry

    struct LoginRequest: Decodable {
        var email: String?
        var phone: String?
        var password: String
    }

    struct UserView: Codable, Sendable {
        var id: String
        var role: String
        var displayName: String
        var email: String?
        var phone: String?
        var agencyId: String?
        var workerId: String?

        enum CodingKeys: String, CodingKey {
            case id, role, email, phone
            case displayName = "display_name"
            case agencyId = "agency_id"
            case workerId = "worker_id"
        }
    }

    struct LoginResponse: Codable, Sendable {
        var token: String
        var csrfToken: String
        var expiresAt: Date
        var user: UserView

        enum CodingKeys: String, CodingKey {
            case token, user
            case csrfToken = "csrf_token"
            case expiresAt = "expires_at"
        }
    }

    struct MeResponse: Codable, Sendable {
        var user: UserView
        var csrfToken: String
        var expiresAt: Date
        var permissions: [String]
        var commitmentsOwed: [String]
        /// The account's phone number proved itself by a code: a household confirms placements only then.
        var phoneVerified: Bool

        enum CodingKeys: String, CodingKey {
            case user, permissions
            case commitmentsOwed = "commitments_owed"
            case phoneVerified = "phone_verified"
            case csrfToken = "csrf_token"
            case expiresAt = "expires_at"
        }
    }

    struct PasswordRequest: Decodable {
        var currentPassword: String
        var newPassword: String

        enum CodingKeys: String, CodingKey {
            case currentPassword = "current_password"
            case newPassword = "new_password"
        }
    }

    struct DisableRequest: Decodable {
        var reason: String
    }

    func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: AuthenticationMiddleware.cookieName(secure: registry.configuration.secureCookies),
            value: value,
            maxAge: maxAge,
            path: "/",
            secure: registry.configuration.secureCookies,
            httpOnly: true,
            sameSite: .lax
        )
    }

    func register(on routes: ProtectedRouter) {
        routes.post("/api/v1/auth/login", action: "auth.login") { request, context in
            let body = try await request.decodeJSON(LoginRequest.self, context: context)
            let identifier = try AuthService.Identifier.from(email: body.email, phone: body.phone)
            let signedIn = try await registry.auth.login(
                identifier,
                password: body.password,
                clientAddress: context.clientAddress,
                presentedToken: context.presentedToken,
                requestID: context.requestID,
                logger: context.logger
            )
            let user = signedIn.user
            // A bearer token for API clients; no cookie (pages have their own sign-in), so that a
            // token obtained over the API never becomes ambient authority in a browser.
            return JSONResponse(
                LoginResponse(
                    token: signedIn.token,
                    csrfToken: signedIn.session.csrfToken,
                    expiresAt: signedIn.session.expiresAt,
                    user: UserView(
                        id: user.id.text,
                        role: user.role.rawValue,
                        displayName: user.displayName,
                        email: user.email,
                        phone: user.phone,
                        agencyId: user.agencyID?.text,
                        workerId: user.workerID?.text
                    )
                )
            )
        }

        routes.post("/api/v1/auth/logout", action: "auth.logout") { request, context in
            guard let session = context.session else { throw RegistryError.unauthenticated }
            try await registry.auth.logout(session, requestID: context.requestID, logger: context.logger)
            var response = Response(status: .noContent)
            response.setCookie(sessionCookie("", maxAge: 0))
            return response
        }

        routes.get("/api/v1/auth/me", action: "auth.me") { _, context in
            guard let session = context.session else { throw RegistryError.unauthenticated }
            let user = try await registry.auth.user(UserID(session.userID), logger: context.logger)
            guard let user else { throw RegistryError.unauthenticated }
            let permissions = registry.policies.access.grants[user.role].map { $0.sorted() } ?? []
            let contact = try await registry.contacts.current(caller: context.caller, logger: context.logger)
            return JSONResponse(
                MeResponse(
                    user: UserView(
                        id: user.id.text,
                        role: user.role.rawValue,
                        displayName: user.displayName,
                        email: user.email,
                        phone: user.phone,
                        agencyId: user.agencyID?.text,
                        workerId: user.workerID?.text
                    ),
                    csrfToken: session.csrfToken,
                    expiresAt: session.expiresAt,
                    permissions: permissions,
                    commitmentsOwed: session.owedCommitments,
                    phoneVerified: contact.phoneVerified
                )
            )
        }

        routes.post("/api/v1/auth/password", action: "auth.password") { request, context in
            guard let session = context.session else { throw RegistryError.unauthenticated }
            let body = try await request.decodeJSON(PasswordRequest.self, context: context)
            try await registry.auth.changePassword(
                session,
                current: body.currentPassword,
                new: body.newPassword,
                requestID: context.requestID,
                logger: context.logger
            )
            return Response(status: .noContent)
        }

        routes.post("/api/v1/users/{id}/disable", action: "users.disable") { request, context in
            let id = try context.parameters.id("id", as: UserID.self)
            let body = try await request.decodeJSON(DisableRequest.self, context: context)
            try await registry.auth.disable(
                userID: id,
                by: context.principal,
                reason: body.reason,
                requestID: context.requestID,
                logger: context.logger
            )
            return Response(status: .noContent)
        }
    }
}
