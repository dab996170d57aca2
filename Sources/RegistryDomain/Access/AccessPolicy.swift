/// Role → permitted actions, loaded from `Policies/access.yaml`. Anything not granted is denied.
public struct AccessPolicy: Sendable, Equatable {
    public let version: Int
    /// Every action the service knows, with a description.
    public let actions: [String: String]
    public let grants: [Role: Set<String>]

    public init(version: Int, actions: [String: String], grants: [Role: Set<String>]) throws(PolicyError) {
        for (role, granted) in grants.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            for action in granted.sorted() where actions[action] == nil {
                throw PolicyError(path: ["roles", role.rawValue], message: "grants unknown action '\(action)'")
            }
        }
        self.version = version
        self.actions = actions
        self.grants = grants
    }

    public func permits(_ role: Role, _ action: String) -> Bool {
        grants[role]?.contains(action) ?? false
    }

    /// Throws `forbidden` (or `unauthenticated` for an anonymous caller) unless granted.
    public func authorize(_ principal: Principal, _ action: String) throws(RegistryError) {
        guard permits(principal.role, action) else {
            throw principal.role == .anonymous ? .unauthenticated : .forbidden
        }
    }
}

/// A policy file that does not say what it must. `path` leads to the offending node so the
/// loader can name the line.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: [String]
    public var message: String

    public init(path: [String], message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { (path.isEmpty ? "" : path.joined(separator: ".") + ": ") + message }
}
