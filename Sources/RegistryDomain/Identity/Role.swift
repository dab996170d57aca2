/// Who is acting. Every permission is decided from the role through `AccessPolicy`.
public enum Role: String, Sendable, Codable, CaseIterable, Hashable {
    case anonymous
    case admin
    case agencyStaff = "agency_staff"
    case employer
    case worker
    case integration
}

/// The authenticated party behind a request.
public struct Principal: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case anonymous
        case user(id: UUIDString, role: Role, agencyID: UUIDString?, workerID: UUIDString?)
        case integration(sourceID: UUIDString, sourceName: String, keyID: UUIDString)
    }

    public var kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public static let anonymous = Principal(.anonymous)

    public var role: Role {
        switch kind {
        case .anonymous: .anonymous
        case .user(_, let role, _, _): role
        case .integration: .integration
        }
    }

    public var userID: UUIDString? {
        if case .user(let id, _, _, _) = kind { return id }
        return nil
    }

    public var agencyID: UUIDString? {
        if case .user(_, _, let agency, _) = kind { return agency }
        return nil
    }

    /// Who is calling, for log lines: the role and the account or key id (never a name or an ID number).
    public var logDescription: String {
        switch kind {
        case .anonymous: "anonymous"
        case .user(let id, let role, _, _): "\(role.rawValue):\(id)"
        case .integration(let source, _, let key): "integration:\(source)/\(key)"
        }
    }

    public var workerID: UUIDString? {
        if case .user(_, _, _, let worker) = kind { return worker }
        return nil
    }
}

/// A UUID in its canonical lower-case text form, as the database returns it.
public typealias UUIDString = String
