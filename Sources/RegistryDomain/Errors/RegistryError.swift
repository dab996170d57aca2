/// The one error type the domain throws. `code` is stable (clients may switch on it);
/// `kind` decides the HTTP status; `message` is safe to show to the user.
public struct RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        case badRequest, unauthorized, forbidden, notFound, conflict, tooLarge, unsupportedMediaType, unprocessable, throttled, unavailable
    }

    public var kind: Kind
    public var code: String
    public var message: String
    public var field: String?
    /// Extra, non-sensitive facts for the client (e.g. the allowed transitions, a retry delay).
    public var details: [String: String]

    public init(_ kind: Kind, code: String, message: String, field: String? = nil, details: [String: String] = [:]) {
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field
        self.details = details
    }

    public var description: String { "\(code): \(message)" + (field.map { " (field \($0))" } ?? "") }

    public static func invalid(_ field: String, _ message: String, code: String = "invalid_field") -> Self {
        .init(.badRequest, code: code, message: message, field: field)
    }

    public static func notFound(_ what: String) -> Self {
        .init(.notFound, code: "not_found", message: "\(what) not found")
    }

    public static let unauthenticated = RegistryError(.unauthorized, code: "unauthenticated", message: "Sign in first.")
    public static let forbidden = RegistryError(.forbidden, code: "forbidden", message: "You are not allowed to do this.")
    public static let invalidCredentials = RegistryError(
        .unauthorized,
        code: "invalid_credentials",
        message: "The account or password is wrong."
    )

    /// The database cannot be reached: nothing was done; the client may send the request again shortly.
    public static let databaseUnavailable = RegistryError(
        .unavailable,
        code: "database_unavailable",
        message: "The registry is temporarily unavailable. Try again shortly.",
        details: ["retry_after": "5"]
    )

    /// The connection was lost while the database committed: the change may or may not have been
    /// made. The client looks before it sends the request again.
    public static let commitOutcomeUnknown = RegistryError(
        .unavailable,
        code: "commit_outcome_unknown",
        message: "The registry lost its database while saving this change, which may or may not have been saved. Check before sending it again.",
        details: ["retry_after": "5"]
    )

    public static func throttled(retryAfterSeconds: Int) -> Self {
        .init(
            .throttled,
            code: "too_many_attempts",
            message: "Too many attempts. Try again in \(retryAfterSeconds) seconds.",
            details: ["retry_after": String(retryAfterSeconds)]
        )
    }
}
