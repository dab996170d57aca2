import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RegistryDomain
import RegistryStorage

/// The one error shape of the API: `{"error": {"code", "message", "field"?, "details"?}}`.
struct ErrorBody: Codable {
    struct Inner: Codable {
        var code: String
        var message: String
        var field: String?
        var details: [String: String]?
    }

    var error: Inner
}

extension RegistryError.Kind {
    var status: HTTPResponse.Status {
        switch self {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .unprocessable: .unprocessableContent
        case .throttled: .tooManyRequests
        case .unavailable: .serviceUnavailable
        }
    }
}

/// Turns every error into the JSON error shape with the right status. Unknown errors are
/// logged with the request id and answered 500 without internals; a lost database is 503.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as RegistryError {
            return Self.response(error, requestID: context.requestID)
        } catch let error as any HTTPResponseError {
            let status = error.status
            let registryError: RegistryError
            switch status {
            case .notFound:
                registryError = RegistryError(.notFound, code: "not_found", message: "No such resource.")
            case .methodNotAllowed:
                registryError = RegistryError(.badRequest, code: "method_not_allowed", message: "This method is not allowed here.")
            case .contentTooLarge:
                registryError = RegistryError(.tooLarge, code: "body_too_large", message: "The request body is too large.")
            case .unsupportedMediaType:
                registryError = RegistryError(.badRequest, code: "unsupported_media_type", message: "Send JSON (Content-Type: application/json).")
            default:
                if status.code >= 500 {
                    context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
                    registryError = RegistryError(
                        .unavailable,
                        code: "internal_error",
                        message: "Something went wrong. Quote request \(context.requestID)."
                    )
                } else {
                    registryError = RegistryError(.badRequest, code: "bad_request", message: Self.describe(error))
                }
            }
            var response = Self.response(registryError, requestID: context.requestID)
            if status.code >= 500 || status == .methodNotAllowed { response.status = status }
            return response
        } catch let error where DatabaseFailure.classify(error)?.isUnreachable == true {
            context.logger.error("database unavailable", metadata: ["error": "\(String(describing: DatabaseFailure.classify(error)))"])
            return Self.response(RegistryError.databaseUnavailable, requestID: context.requestID)
        } catch let error where DatabaseFailure.classify(error) != nil {
            context.logger.notice("request refused by the database", metadata: ["failure": "\(String(describing: DatabaseFailure.classify(error)))"])
            return Self.response(
                RegistryError(
                    .badRequest,
                    code: "invalid_value",
                    message: "The request holds a value that cannot be stored (for example a NUL character)."
                ),
                requestID: context.requestID
            )
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            var response = Self.response(
                RegistryError(.unavailable, code: "internal_error", message: "Something went wrong. Quote request \(context.requestID)."),
                requestID: context.requestID
            )
            response.status = .internalServerError
            return response
        }
    }

    static func describe(_ error: any HTTPResponseError) -> String {
        if let http = error as? HTTPError, let body = http.body, !body.isEmpty { return body }
        return "The request is not valid."
    }

    static func response(_ error: RegistryError, requestID: String) -> Response {
        let body = ErrorBody(
            error: .init(
                code: error.code,
                message: error.message,
                field: error.field,
                details: error.details.isEmpty ? nil : error.details
            )
        )
        let data = (try? JSONCoding.encoder.encode(body)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retry = error.details["retry_after"] { headers[.retryAfter] = retry }
        return Response(status: error.kind.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
