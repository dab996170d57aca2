import Crypto
import Foundation
import RegistrySecurity

/// Throttle and rate-limit keys: a scope and a SHA-256 of what is counted, so the tables never
/// hold an address, a phone number or an e-mail address.
enum ThrottleKeys {
    static func hashed(_ scope: String, _ value: String) -> String {
        scope + ":" + Array(SHA256.hash(data: Data(value.utf8))).hex
    }
}
