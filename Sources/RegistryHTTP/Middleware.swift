import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryServices
import RegistryStorage

extension HTTPField.Name {
    static let requestID = Self("X-Request-ID")!
    static let csrfToken = Self("X-CSRF-Token")!
}

/// Gives every request an id (the client's `X-Request-ID` if sane, else a new one), puts it on
/// every log line and in the response, and logs one line per request (path without query).
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let offered = request.headers[.requestID].flatMap { id in
            id.count <= 64 && id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) ? id : nil
        }
        let id = offered ?? UUID().uuidString.lowercased()
        context.requestID = id
        context.logger[metadataKey: "request_id"] = .string(id)
        let start = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[.requestID] = id
        let elapsed = ContinuousClock.now - start
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method)", "path": "\(context.endpointPath ?? "-")", "status": "\(response.status.code)",
                "ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            ]
        )
        return response
    }
}

/// Safe defaults on every response.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    /// Set when the service is reached over TLS (secure cookies): browsers then refuse plain HTTP for a year.
    var strictTransportSecurity = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] =
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        }
        if strictTransportSecurity {
            response.headers[HTTPField.Name("Strict-Transport-Security")!] = "max-age=31536000; includeSubDomains"
        }
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }
}

/// Finds the caller: a session token from `Authorization: Bearer` or the session cookie.
/// An unknown or expired token leaves the caller anonymous; the route's action decides.
/// Cookie-authenticated API writes must carry the session's CSRF token in `X-CSRF-Token`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let registry: Registry

    /// The session cookie's name: with secure cookies, `__Host-registry_session`, which a browser
    /// accepts only when Secure, for path / and without a Domain (no sibling host can set it).
    static func cookieName(secure: Bool) -> String { secure ? "__Host-registry_session" : "registry_session" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let trusted = registry.configuration.trustedProxies
        if !trusted.isEmpty {
            context.clientAddress = ClientAddress.resolve(
                peer: context.remoteAddress?.ipAddress,
                forwarded: request.headers[values: HTTPField.Name("Forwarded")!],
                forwardedFor: request.headers[values: HTTPField.Name("X-Forwarded-For")!],
                trusted: trusted
            )
        }
        var token: String?
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                token = String(parts[1]).trimmingCharacters(in: .whitespaces)
            }
        } else if let cookie = request.cookies[Self.cookieName(secure: registry.configuration.secureCookies)]?.value, !cookie.isEmpty {
            token = cookie
            context.authenticatedByCookie = true
        }
        if let token, token.hasPrefix(FlagService.keyPrefix) {
            // An integration client (police, credit bureau): its key names its source.
            if let (keyID, source) = try await registry.flags.authenticate(key: token, logger: context.logger) {
                context.integration = source
                context.principal = Principal(
                    .integration(
                        sourceID: SourceID(source.id),
                        sourceName: source.name,
                        keyID: KeyID(keyID)
                    )
                )
                context.logger[metadataKey: "source"] = .string(source.name)
            }
        } else if let token {
            context.presentedToken = token
            if let session = try await registry.auth.authenticate(token: token, logger: context.logger) {
                context.session = session
                context.principal = session.principal
                context.logger[metadataKey: "user_id"] = .string(session.userID.uuidString.lowercased())
            }
        }
        // Decided on the route the router matched, not on the raw path: `//api/v1/…` and
        // `/api/v1/…/` reach the same handler and are checked the same. Signing in is exempt:
        // it needs no session, and it replaces the one presented.
        let route = context.endpointPath ?? request.uri.path
        if context.authenticatedByCookie, let session = context.session, !request.method.isSafe,
            route.hasPrefix("/api/"), route != "/api/v1/auth/login"
        {
            guard let offered = request.headers[.csrfToken],
                TokenGenerator.constantTimeEqual(offered, session.csrfToken)
            else {
                throw RegistryError(
                    .forbidden,
                    code: "csrf_failed",
                    message: "Missing or wrong X-CSRF-Token for a cookie-authenticated request."
                )
            }
        }
        return try await next(request, context)
    }
}

extension HTTPRequest.Method {
    var isSafe: Bool { self == .get || self == .head || self == .options }
}
