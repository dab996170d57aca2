import Logging
import PostgresNIO
import RegistryDomain

/// Failure counters and blocks for login throttling, kept in PostgreSQL so that every node
/// sees the same counts.
public enum ThrottleStore {
    /// Seconds until the longest block among `keys` ends (0 when none is blocked).
    public static func blockedSeconds(keys: [String], database: Database, logger: Logger) async throws -> Int {
        let rows = try await database.query("""
            SELECT coalesce(max(ceil(extract(epoch FROM blocked_until - now()))), 0)::int
            FROM login_throttle WHERE key = ANY(\(keys)) AND blocked_until > now()
            """, logger: logger)
        for try await seconds in rows.decode(Int.self) { return max(0, seconds) }
        return 0
    }

    /// Counts one failure for `key` inside the policy window and blocks the key as the policy says.
    public static func recordFailure(key: String, allowed: Int, policy: LoginThrottlePolicy,
                                     on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query("""
            INSERT INTO login_throttle AS t (key, failures, window_started) VALUES (\(key), 1, now())
            ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN t.window_started < now() - make_interval(secs => \(policy.windowSeconds))
                                THEN 1 ELSE t.failures + 1 END,
                window_started = CASE WHEN t.window_started < now() - make_interval(secs => \(policy.windowSeconds))
                                THEN now() ELSE t.window_started END
            RETURNING failures
            """, logger: logger)
        var failures = 0
        for try await n in rows.decode(Int.self) { failures = n }
        let block = policy.blockSeconds(afterFailures: failures, allowed: allowed)
        if block > 0 {
            try await connection.query("""
                UPDATE login_throttle SET blocked_until = now() + make_interval(secs => \(block)) WHERE key = \(key)
                """, logger: logger)
        }
    }

    public static func reset(key: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("DELETE FROM login_throttle WHERE key = \(key)", logger: logger)
    }
}
