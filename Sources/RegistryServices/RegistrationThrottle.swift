import Crypto
import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Account creation is throttled per client address and for the whole service before any
/// password is hashed: free sign-ups must not buy an attacker argon2id runs at will.
struct RegistrationThrottle: Sendable {
    let database: Database
    let policy: AuthenticationPolicy

    func admit(clientAddress: String?, logger: Logger) async throws {
        if let clientAddress {
            let key = "register-address:" + Array(SHA256.hash(data: Data(clientAddress.utf8))).hex
            guard try await RateLimitStore.hit(key: key, perMinute: policy.registrationsPerAddressPerMinute, database: database, logger: logger) else {
                throw RegistryError.throttled(retryAfterSeconds: Self.secondsToNextMinute())
            }
        }
        guard try await RateLimitStore.hit(key: "register-all", perMinute: policy.registrationsPerMinute, database: database, logger: logger) else {
            throw RegistryError.throttled(retryAfterSeconds: Self.secondsToNextMinute())
        }
    }

    /// Seconds until the next calendar day (UTC), when a daily count starts again.
    static func secondsToNextDay(_ now: Date = Date()) -> Int {
        let second = Int(now.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400))
        return max(1, 86_400 - second)
    }

    /// The rate windows are calendar minutes.
    static func secondsToNextMinute(_ now: Date = Date()) -> Int {
        let second = Int(now.timeIntervalSince1970.truncatingRemainder(dividingBy: 60))
        return max(1, 60 - second)
    }
}
