import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Account creation is throttled per client address and for the whole service before any
/// password is hashed: free sign-ups must not buy an attacker argon2id runs at will.
struct RegistrationThrottle: Sendable {
    let database: Database
    let policy: AuthenticationPolicy

    func admit(clientAddress: String?, logger: Logger) async throws {
        if let clientAddress {
            guard
                try await RateLimitStore.hit(
                    key: ThrottleKeys.hashed("register-address", clientAddress),
                    perMinute: policy.registrationsPerAddressPerMinute,
                    database: database,
                    logger: logger
                )
            else { throw RegistryError.throttled(retryAfterSeconds: RateLimitStore.Window.minute.secondsLeft()) }
        }
        guard try await RateLimitStore.hit(key: "register-all", perMinute: policy.registrationsPerMinute, database: database, logger: logger) else {
            throw RegistryError.throttled(retryAfterSeconds: RateLimitStore.Window.minute.secondsLeft())
        }
    }
}
