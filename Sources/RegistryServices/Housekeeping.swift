import Foundation
import Logging
import RegistryStorage

/// Time's housekeeping (a daily job, safe on several nodes: deleting what is due twice deletes it
/// once): sessions ended more than `retentionDays` ago, spent or expired activation codes as old,
/// login-throttle and rate-limit rows whose windows ended a day ago, and spent feed nonces.
public struct Housekeeping: Sendable {
    let database: Database
    let clock: RegistryClock
    /// How long ended sessions and spent codes are kept (for questions about a sign-in).
    public static let retentionDays = 30

    public init(database: Database, clock: RegistryClock) {
        self.database = database
        self.clock = clock
    }

    /// One pass, in batches until nothing is due; returns what was deleted.
    @discardableResult
    public func run(batch: Int = 5000, logger: Logger) async throws -> HousekeepingStore.Pruned {
        var total = HousekeepingStore.Pruned()
        while true {
            let pruned = try await HousekeepingStore.prune(
                now: clock.now,
                retentionDays: Self.retentionDays,
                batch: batch,
                database: database,
                logger: logger
            )
            total.sessions += pruned.sessions
            total.activationCodes += pruned.activationCodes
            total.loginThrottle += pruned.loginThrottle
            total.rateLimits += pruned.rateLimits
            total.feedNonces += pruned.feedNonces
            if pruned.total < batch { break }
        }
        if total.total > 0 {
            logger.info(
                "housekeeping",
                metadata: [
                    "sessions": "\(total.sessions)", "activation_codes": "\(total.activationCodes)", "login_throttle": "\(total.loginThrottle)",
                    "rate_limits": "\(total.rateLimits)", "feed_nonces": "\(total.feedNonces)",
                ]
            )
        }
        return total
    }
}
