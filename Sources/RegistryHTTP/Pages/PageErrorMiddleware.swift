import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RegistryDomain
import RegistryStorage

/// Answers page requests that fail with a page, not JSON: an anonymous visitor who needs to
/// sign in is sent to the sign-in page (303), any other error gets the error page with its
/// status. API, health and metrics paths pass through untouched (the JSON error shape stays
/// theirs). Added to the router before the page routes, so it runs after authentication.
struct PageErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let kit: PageKit

    static func isPage(_ path: String) -> Bool {
        !(path.hasPrefix("/api/") || path.hasPrefix("/health/") || path == "/metrics" || path == "/openapi.yaml")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.isPage(request.uri.path) else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch let error as RegistryError {
            let page = kit.scope(request, context)
            if error.kind == .unauthorized, context.session == nil {
                // Only a GET can be resumed after sign-in; a form posted by a signed-out visitor starts over.
                let back = request.method == .get ? "?next=" + PageScope.queryEncode(PageScope.safeLocalPath(page.here)) : ""
                return page.redirect("/signin" + back)
            }
            if error.code == "commitment_required" {
                // A form posted before the commitments in force were accepted: read and accept them first.
                return page.redirect("/agency/commitments?notice=commitment_required")
            }
            if error.code == "phone_not_verified" {
                // A household confirming a placement before its phone number is verified: verify it first.
                return page.redirect("/account/contact?notice=phone_not_verified")
            }
            if error.kind == .forbidden || error.kind == .notFound {
                context.logger.notice("page refused", metadata: ["code": "\(error.code)", "path": "\(request.uri.path)"])
            }
            return page.errorPage(error)
        } catch let error as any HTTPResponseError {
            let status = error.status
            let page = kit.scope(request, context)
            if status.code >= 500 {
                context.logger.error("page failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            let code =
                switch status {
                case .notFound: "not_found"
                case .methodNotAllowed: "method_not_allowed"
                case .contentTooLarge: "body_too_large"
                default: status.code >= 500 ? "internal_error" : "bad_request"
                }
            let kind: RegistryError.Kind = status == .notFound ? .notFound : (status.code >= 500 ? .unavailable : .badRequest)
            var response = page.errorPage(RegistryError(kind, code: code, message: ""))
            response.status = status
            return response
        } catch let error where DatabaseFailure.classify(error)?.isUnreachable == true {
            context.logger.error("database unavailable", metadata: ["error": "\(String(describing: DatabaseFailure.classify(error)))"])
            return kit.scope(request, context).errorPage(RegistryError(.unavailable, code: "database_unavailable", message: ""))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("page failed", metadata: ["error": "\(String(reflecting: error))"])
            var response = kit.scope(request, context).errorPage(RegistryError(.unavailable, code: "internal_error", message: ""))
            response.status = .internalServerError
            return response
        }
    }
}
