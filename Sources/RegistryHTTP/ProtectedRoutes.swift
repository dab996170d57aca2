import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RegistryDomain
import RegistryServices

/// Every route of the registry, with the one action from `Policies/access.yaml` it needs.
/// Registering through here is the only way to add a route, so no handler can forget to ask.
public struct RouteDescription: Sendable, Hashable {
    public var method: String
    public var path: String
    public var action: String
}

final class ProtectedRouter: @unchecked Sendable {
    let router: Router<AppRequestContext>
    let access: AccessPolicy
    private(set) var routes: [RouteDescription] = []

    /// The writes a staff member may make before accepting the credit commitments in force:
    /// accepting them, and what keeps her account hers (signing in and out, her password, the language).
    static let allowedWhileCommitmentsOwed: Set<String> = [
        "commitments.accept", "auth.login", "auth.logout", "auth.password", "web.home",
    ]

    init(router: Router<AppRequestContext>, access: AccessPolicy) {
        self.router = router
        self.access = access
    }

    /// Adds `handler` at `path` for `method`, run only when the caller's role is granted `action`.
    func on<Output: ResponseGenerator>(
        _ method: HTTPRequest.Method,
        _ path: String,
        action: String,
        use handler: @escaping @Sendable (Request, AppRequestContext) async throws -> Output
    ) {
        precondition(access.actions[action] != nil, "route \(method) \(path) names action '\(action)', which Policies/access.yaml does not define")
        routes.append(RouteDescription(method: method.rawValue, path: path, action: action))
        let access = self.access
        router.on(RouterPath(path), method: method) { request, context in
            do {
                try access.authorize(context.principal, action)
                if !request.method.isSafe, let owed = context.session?.owedCommitments, !owed.isEmpty,
                    !Self.allowedWhileCommitmentsOwed.contains(action)
                {
                    throw RegistryError.commitmentRequired(owed)
                }
                return try await handler(request, context)
            } catch let error as RegistryError where error.kind == .forbidden || error.kind == .notFound {
                // Who was refused what: attempts on other agencies' or people's records (404)
                // show up here with the caller, so they can be traced (ids only, never an ID number).
                context.logger.notice(
                    "request refused",
                    metadata: [
                        "code": "\(error.code)", "path": "\(request.uri.path)", "action": "\(action)",
                        "actor": "\(context.principal.logDescription)",
                    ]
                )
                throw error
            }
        }
    }

    func get<Output: ResponseGenerator>(
        _ path: String,
        action: String,
        use handler: @escaping @Sendable (Request, AppRequestContext) async throws -> Output
    ) {
        on(.get, path, action: action, use: handler)
    }

    func post<Output: ResponseGenerator>(
        _ path: String,
        action: String,
        use handler: @escaping @Sendable (Request, AppRequestContext) async throws -> Output
    ) {
        on(.post, path, action: action, use: handler)
    }

    func put<Output: ResponseGenerator>(
        _ path: String,
        action: String,
        use handler: @escaping @Sendable (Request, AppRequestContext) async throws -> Output
    ) {
        on(.put, path, action: action, use: handler)
    }

    func delete<Output: ResponseGenerator>(
        _ path: String,
        action: String,
        use handler: @escaping @Sendable (Request, AppRequestContext) async throws -> Output
    ) {
        on(.delete, path, action: action, use: handler)
    }
}

extension RegistryError {
    /// A write by agency staff who have not accepted the credit commitments in force.
    static func commitmentRequired(_ owed: [String]) -> RegistryError {
        RegistryError(
            .forbidden,
            code: "commitment_required",
            message:
                "Accept the credit commitments in force first (GET and POST /api/v1/agency/commitments): "
                + owed.joined(separator: ", ") + ".",
            details: ["owed": owed.joined(separator: ",")]
        )
    }
}

/// A JSON body with a chosen status.
struct JSONResponse<Body: Encodable & Sendable>: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    var body: Body
    var headers: HTTPFields = [:]

    init(_ body: Body, status: HTTPResponse.Status = .ok) {
        self.body = body
        self.status = status
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONCoding.encoder.encode(body)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Request {
    /// Decodes a JSON body; malformed JSON or a wrong shape is a 400 naming the problem.
    func decodeJSON<T: Decodable>(_ type: T.Type, context: AppRequestContext) async throws -> T {
        try requireJSONContentType()
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw RegistryError(.tooLarge, code: "body_too_large", message: "The request body is too large.")
        }
        return try JSONBody.decode(T.self, from: Data(buffer.readableBytesView))
    }
}

/// JSON bodies decoded with the API's one style, a failure named as the client should hear it.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONCoding.decoder.decode(T.self, from: data)
        } catch {
            throw problem(error)
        }
    }

    /// What a decoding error means for the client: the field at fault (named from `prefix`
    /// coding-path elements on, for an item inside a larger body) and why.
    static func problem(_ error: any Error, prefix: Int = 0) -> RegistryError {
        func field(_ path: [any CodingKey]) -> String { path.dropFirst(prefix).map(\.stringValue).joined(separator: ".") }
        switch error {
        case DecodingError.keyNotFound(let key, _):
            return .invalid(key.stringValue, "'\(key.stringValue)' is required.", code: "missing_field")
        case DecodingError.typeMismatch(_, let ctx) where prefix == 0 || ctx.codingPath.count > prefix:
            return .invalid(field(ctx.codingPath), "'\(field(ctx.codingPath))' has the wrong type.", code: "wrong_type")
        case DecodingError.valueNotFound(_, let ctx):
            return .invalid(field(ctx.codingPath), "'\(field(ctx.codingPath))' must not be null.", code: "missing_field")
        case DecodingError.dataCorrupted(let ctx) where prefix > 0:
            return .invalid(field(ctx.codingPath), "'\(field(ctx.codingPath))' is not valid.", code: "wrong_type")
        default:
            return prefix > 0
                ? RegistryError(.badRequest, code: "malformed_item", message: "The item is not a flag object.")
                : RegistryError(.badRequest, code: "malformed_json", message: "The body is not valid JSON.")
        }
    }
}

extension Request {
    /// A JSON body must say so (`application/json`, or a `+json` type): a form or `text/plain`
    /// body, which a foreign page can send without a preflight, is 415 and never decoded.
    func requireJSONContentType() throws {
        let mediaType = headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
            throw RegistryError(
                .unsupportedMediaType,
                code: "unsupported_media_type",
                message: "Send the body as JSON with Content-Type: application/json."
            )
        }
    }
}

extension Parameters {
    /// A UUID path parameter; anything else is 404 (ids are opaque).
    func uuid(_ name: String) throws -> UUID {
        guard let text = get(name), let id = UUID(uuidString: text) else { throw RegistryError.notFound("Resource") }
        return id
    }

    /// A typed identifier path parameter; anything else is 404 (ids are opaque).
    func id<Tag>(_ name: String, as: ID<Tag>.Type = ID<Tag>.self) throws -> ID<Tag> {
        guard let text = get(name), let id = ID<Tag>(text) else { throw RegistryError.notFound("Resource") }
        return id
    }
}

extension Request {
    /// A boolean query parameter: absent → `default`; `true`/`1` or `false`/`0`; anything else is a 400.
    func flag(_ name: String, default value: Bool) throws -> Bool {
        guard let text = uri.queryParameters[Substring(name)].map(String.init) else { return value }
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw RegistryError.invalid(name, "'\(name)' is true or false.", code: "wrong_type")
        }
    }
}
