import PostgresNIO
import _ConnectionPoolModule

/// What a database error means to a caller above Storage, so that no other module needs to know
/// PostgresNIO's error type.
public enum DatabaseFailure: Equatable, Sendable {
    /// The connection or the pool failed: nothing is known to have been done; try again shortly.
    case unreachable(code: String)
    /// PostgreSQL refused a value (SQLSTATE class 22, e.g. a NUL character in text).
    case invalidValue(sqlState: String)

    public var isUnreachable: Bool {
        if case .unreachable = self { return true }
        return false
    }

    /// The failure `error` stands for, or nil when it is not one of these.
    public static func classify(_ error: any Error) -> DatabaseFailure? {
        if Database.poolGaveUp(error) { return .unreachable(code: "\(error)") }
        if error is ConnectionClosed { return .unreachable(code: "connectionClosed") }
        guard let error = error as? PSQLError else { return nil }
        if [.connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .failedToAddSSLHandler].contains(error.code) {
            return .unreachable(code: "\(error.code)")
        }
        // The server going away under a statement (57P01 terminating, 57P02/57P03, class 08), or
        // refusing writes as a standby (25006): nothing to fix in the request; try again shortly.
        if Database.lostPrimary(error), let state = error.serverInfo?[.sqlState] { return .unreachable(code: state) }
        if let state = error.serverInfo?[.sqlState], state.hasPrefix("22") { return .invalidValue(sqlState: state) }
        return nil
    }

    /// A database error in words fit for a record an operator reads: the server's own message
    /// and SQLSTATE (which name no bound value), or the client's error code; nil for any other
    /// error.
    public static func summary(_ error: any Error) -> String? {
        if error is ConnectionClosed { return "database: \(error)" }
        guard let error = error as? PSQLError else { return nil }
        guard let message = error.serverInfo?[.message] else { return "database: \(error.code)" }
        return "database: \(message)" + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
    }
}
