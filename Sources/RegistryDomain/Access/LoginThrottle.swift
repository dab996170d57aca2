/// Login throttling rules. Failures are counted per account identifier and per client address
/// inside a window; past the limit the key is blocked for a delay that doubles with every
/// further failure, up to a cap, so an attacker can slow a victim's login but never lock her
/// out for longer than `maxBlock`.
public struct LoginThrottlePolicy: Sendable, Equatable, Codable {
    public var accountFailuresAllowed: Int
    public var addressFailuresAllowed: Int
    public var windowSeconds: Int
    public var baseBlockSeconds: Int
    public var maxBlockSeconds: Int

    public init(
        accountFailuresAllowed: Int = 5,
        addressFailuresAllowed: Int = 30,
        windowSeconds: Int = 900,
        baseBlockSeconds: Int = 30,
        maxBlockSeconds: Int = 900
    ) {
        self.accountFailuresAllowed = accountFailuresAllowed
        self.addressFailuresAllowed = addressFailuresAllowed
        self.windowSeconds = windowSeconds
        self.baseBlockSeconds = baseBlockSeconds
        self.maxBlockSeconds = maxBlockSeconds
    }

    enum CodingKeys: String, CodingKey {
        case accountFailuresAllowed = "account_failures_allowed"
        case addressFailuresAllowed = "address_failures_allowed"
        case windowSeconds = "window_seconds"
        case baseBlockSeconds = "base_block_seconds"
        case maxBlockSeconds = "max_block_seconds"
    }

    /// How long to block after `failures` failures (0 = not blocked).
    public func blockSeconds(afterFailures failures: Int, allowed: Int) -> Int {
        guard failures >= allowed else { return 0 }
        let doublings = min(failures - allowed, 20)
        return min(maxBlockSeconds, baseBlockSeconds << doublings)
    }

    public func validate() throws(PolicyError) {
        guard accountFailuresAllowed >= 1, addressFailuresAllowed >= accountFailuresAllowed else {
            throw PolicyError(path: ["login_throttle"], message: "failure limits must be >= 1 and address >= account")
        }
        guard windowSeconds >= 60, baseBlockSeconds >= 1, maxBlockSeconds >= baseBlockSeconds, maxBlockSeconds <= 86_400 else {
            throw PolicyError(path: ["login_throttle"], message: "window >= 60 s, 1 <= base block <= max block <= 1 day")
        }
    }
}
