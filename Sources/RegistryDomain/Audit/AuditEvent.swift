/// One row of the audit log, written in the same transaction as the change it describes.
/// `details` must never hold an ID number, a password, a token or a consent code.
public struct AuditEvent: Sendable, Equatable {
    public enum ActorKind: String, Sendable { case user, integration, system }

    public var actorKind: ActorKind
    public var actorID: String?
    public var actorRole: String?
    public var action: String
    public var subjectType: String
    public var subjectID: String?
    public var requestID: String?
    public var details: [String: AuditValue]

    public init(
        actorKind: ActorKind,
        actorID: String?,
        actorRole: String?,
        action: String,
        subjectType: String,
        subjectID: String?,
        requestID: String? = nil,
        details: [String: AuditValue] = [:]
    ) {
        self.actorKind = actorKind
        self.actorID = actorID
        self.actorRole = actorRole
        self.action = action
        self.subjectType = subjectType
        self.subjectID = subjectID
        self.requestID = requestID
        self.details = details
    }

    /// An event done by `principal`.
    public init(
        by principal: Principal,
        action: String,
        subjectType: String,
        subjectID: String?,
        requestID: String? = nil,
        details: [String: AuditValue] = [:]
    ) {
        switch principal.kind {
        case .anonymous:
            self.init(
                actorKind: .system,
                actorID: nil,
                actorRole: "anonymous",
                action: action,
                subjectType: subjectType,
                subjectID: subjectID,
                requestID: requestID,
                details: details
            )
        case .user(let id, let role, _, _):
            self.init(
                actorKind: .user,
                actorID: id.text,
                actorRole: role.rawValue,
                action: action,
                subjectType: subjectType,
                subjectID: subjectID,
                requestID: requestID,
                details: details
            )
        case .integration(let sourceID, _, _):
            self.init(
                actorKind: .integration,
                actorID: sourceID.text,
                actorRole: "integration",
                action: action,
                subjectType: subjectType,
                subjectID: subjectID,
                requestID: requestID,
                details: details
            )
        }
    }
}

/// A JSON value for audit details.
public enum AuditValue: Sendable, Equatable, Codable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral
{
    case string(String)
    case int(Int)
    case bool(Bool)
    case null
    case list([AuditValue])
    case object([String: AuditValue])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    public init(_ optional: String?) { self = optional.map(AuditValue.string) ?? .null }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .bool(let b): try c.encode(b)
        case .null: try c.encodeNil()
        case .list(let l): try c.encode(l)
        case .object(let o): try c.encode(o)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let l = try? c.decode([AuditValue].self) {
            self = .list(l)
        } else {
            self = .object(try c.decode([String: AuditValue].self))
        }
    }
}
