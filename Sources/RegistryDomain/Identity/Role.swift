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
        case user(id: UserID, role: Role, agencyID: AgencyID?, workerID: WorkerID?)
        case integration(sourceID: SourceID, sourceName: String, keyID: KeyID)
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

    public var userID: UserID? {
        if case .user(let id, _, _, _) = kind { return id }
        return nil
    }

    public var agencyID: AgencyID? {
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

    public var workerID: WorkerID? {
        if case .user(_, _, _, let worker) = kind { return worker }
        return nil
    }
}
