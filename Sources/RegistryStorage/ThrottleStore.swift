import Logging
import PostgresNIO
import RegistryDomain

/// Failure counters and blocks for login throttling, kept in PostgreSQL so that every node
/// sees the same counts.
public enum ThrottleStore {
    /// Counts one attempt for each key, atomically, before the attempt is judged, and answers
    /// how long the caller must wait (0: go ahead). Concurrent attempts cannot all slip under
    /// the limit, because each one's number is taken in the statement that counts it.
    ///
    /// Past a key's allowance inside the window the attempt is refused and the key blocked
    /// (the policy's delay, doubling with each attempt beyond, capped). When a block has run
    /// out, one attempt is let through and the next block armed at once: a success clears it
    /// (`reset` for the account, `release` for a shared address), a failure leaves it standing.
    public static func admit(
        _ keys: [(key: String, allowed: Int)],
        policy: LoginThrottlePolicy,
        database: Database,
        logger: Logger
    ) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await database.transaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO login_throttle AS t (key, failures, window_started)
                SELECT k, 1, now() FROM unnest(\(keys.map(\.key))::text[]) AS k
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN t.window_started < now() - make_interval(secs => \(Double(policy.windowSeconds)))
                                     AND coalesce(t.blocked_until, '-infinity') <= now()
                                    THEN 1 ELSE t.failures + 1 END,
                    window_started = CASE WHEN t.window_started < now() - make_interval(secs => \(Double(policy.windowSeconds)))
                                           AND coalesce(t.blocked_until, '-infinity') <= now()
                                    THEN now() ELSE t.window_started END,
                    blocked_until = CASE WHEN t.window_started < now() - make_interval(secs => \(Double(policy.windowSeconds)))
                                          AND coalesce(t.blocked_until, '-infinity') <= now()
                                    THEN NULL ELSE t.blocked_until END
                RETURNING t.key, t.failures, coalesce(ceil(extract(epoch FROM t.blocked_until - now())), 0)::int8,
                          t.blocked_until IS NOT NULL
                """,
                logger: logger
            )
            var wait = 0
            var blocks: [(String, Int)] = []
            for try await (key, attempts, blockedFor, wasBlocked) in rows.decode((String, Int, Int64, Bool).self) {
                let allowed = keys.first { $0.key == key }?.allowed ?? 1
                if blockedFor > 0 {
                    wait = max(wait, Int(blockedFor))
                } else if attempts > allowed {
                    let block = policy.blockSeconds(afterFailures: attempts - 1, allowed: allowed)
                    blocks.append((key, block))
                    // The first attempt past the allowance is refused; after a block has run out,
                    // one is let through with the next block already armed.
                    if !wasBlocked { wait = max(wait, block) }
                }
            }
            for (key, block) in blocks {
                try await connection.query(
                    """
                    UPDATE login_throttle SET blocked_until = now() + make_interval(secs => \(Double(block))) WHERE key = \(key)
                    """,
                    logger: logger
                )
            }
            return wait
        }
    }

    /// Gives back the attempt a success took from a shared key (a client address), so that many
    /// people signing in behind one address do not use up its allowance; a success from it lifts its block.
    public static func release(key: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE login_throttle SET failures = greatest(failures - 1, 0), blocked_until = NULL WHERE key = \(key)
            """,
            logger: logger
        )
    }

    public static func reset(key: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("DELETE FROM login_throttle WHERE key = \(key)", logger: logger)
    }
}
