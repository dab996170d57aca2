import Foundation
import Logging
import PostgresNIO

/// Pruning of rows that have served their purpose, in batches (each statement deletes at most
/// `batch` rows, so a large backlog never holds long locks). `now` is the registry's clock.
public enum HousekeepingStore {
    /// Rows deleted per table.
    public struct Pruned: Sendable, Equatable {
        public var sessions = 0
        public var activationCodes = 0
        public var loginThrottle = 0
        public var rateLimits = 0
        public var feedNonces = 0

        public init() {}

        public var total: Int { sessions + activationCodes + loginThrottle + rateLimits + feedNonces }
    }

    public static func prune(now: Date, retentionDays: Int, batch: Int, database: Database, logger: Logger) async throws -> Pruned {
        let retention = Double(retentionDays) * 86_400
        var pruned = Pruned()
        pruned.sessions = try await count(
            """
            WITH gone AS (
                DELETE FROM sessions WHERE id IN (
                    SELECT id FROM sessions
                    WHERE expires_at < \(now) - make_interval(secs => \(retention))
                       OR revoked_at < \(now) - make_interval(secs => \(retention))
                       OR last_seen_at < \(now) - make_interval(secs => \(retention))
                    LIMIT \(batch))
                RETURNING 1)
            SELECT count(*)::int FROM gone
            """,
            database,
            logger
        )
        pruned.activationCodes = try await count(
            """
            WITH gone AS (
                DELETE FROM activation_codes WHERE id IN (
                    SELECT id FROM activation_codes
                    WHERE created_at < \(now) - make_interval(secs => \(retention)) AND (used_at IS NOT NULL OR expires_at < \(now))
                    LIMIT \(batch))
                RETURNING 1)
            SELECT count(*)::int FROM gone
            """,
            database,
            logger
        )
        pruned.loginThrottle = try await count(
            """
            WITH gone AS (
                DELETE FROM login_throttle WHERE key IN (
                    SELECT key FROM login_throttle
                    WHERE window_started < \(now) - interval '1 day' AND (blocked_until IS NULL OR blocked_until < \(now))
                    LIMIT \(batch))
                RETURNING 1)
            SELECT count(*)::int FROM gone
            """,
            database,
            logger
        )
        pruned.rateLimits = try await count(
            """
            WITH gone AS (
                DELETE FROM rate_limits WHERE (key, window_start) IN (
                    SELECT key, window_start FROM rate_limits WHERE window_start < \(now) - interval '1 day' LIMIT \(batch))
                RETURNING 1)
            SELECT count(*)::int FROM gone
            """,
            database,
            logger
        )
        pruned.feedNonces = try await count(
            """
            WITH gone AS (
                DELETE FROM feed_nonces WHERE (source_id, nonce) IN (
                    SELECT source_id, nonce FROM feed_nonces WHERE expires_at < \(now) LIMIT \(batch))
                RETURNING 1)
            SELECT count(*)::int FROM gone
            """,
            database,
            logger
        )
        return pruned
    }

    static func count(_ query: PostgresQuery, _ database: Database, _ logger: Logger) async throws -> Int {
        for try await n in try await database.query(query, logger: logger).decode(Int.self) { return n }
        return 0
    }
}
