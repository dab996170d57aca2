/// How the outbox delivers messages to people (`Policies/messages.yaml`).
public struct MessagePolicy: Sendable, Equatable, Codable {
    public var version: Int
    /// Attempts before a message is moved to the dead letters administrators see.
    public var maxAttempts: Int
    /// The wait before the second attempt; each later wait doubles, up to `backoffMaxSeconds`.
    public var backoffBaseSeconds: Int
    public var backoffMaxSeconds: Int
    /// How long a dispatcher holds a message it is sending; past it (the node died) another
    /// dispatcher sends it again, with the same idempotency key.
    public var leaseSeconds: Int
    /// Messages one dispatcher claims at a time.
    public var batchSize: Int
    /// The longest SMS text, in segments (70 characters of Chinese text make one segment).
    public var smsMaxSegments: Int

    enum CodingKeys: String, CodingKey {
        case version
        case maxAttempts = "max_attempts"
        case backoffBaseSeconds = "backoff_base_seconds"
        case backoffMaxSeconds = "backoff_max_seconds"
        case leaseSeconds = "lease_seconds"
        case batchSize = "batch_size"
        case smsMaxSegments = "sms_max_segments"
    }

    public init(
        version: Int = 1,
        maxAttempts: Int = 8,
        backoffBaseSeconds: Int = 30,
        backoffMaxSeconds: Int = 3600,
        leaseSeconds: Int = 60,
        batchSize: Int = 50,
        smsMaxSegments: Int = 2
    ) {
        self.version = version
        self.maxAttempts = maxAttempts
        self.backoffBaseSeconds = backoffBaseSeconds
        self.backoffMaxSeconds = backoffMaxSeconds
        self.leaseSeconds = leaseSeconds
        self.batchSize = batchSize
        self.smsMaxSegments = smsMaxSegments
    }

    public func validate() throws(PolicyError) {
        guard (1...50).contains(maxAttempts) else { throw PolicyError(path: ["max_attempts"], message: "must be 1 to 50") }
        guard (1...3600).contains(backoffBaseSeconds) else { throw PolicyError(path: ["backoff_base_seconds"], message: "must be 1 to 3600") }
        guard (backoffBaseSeconds...86_400).contains(backoffMaxSeconds) else {
            throw PolicyError(path: ["backoff_max_seconds"], message: "must be at least backoff_base_seconds and at most 86400")
        }
        guard (5...3600).contains(leaseSeconds) else { throw PolicyError(path: ["lease_seconds"], message: "must be 5 to 3600") }
        guard (1...1000).contains(batchSize) else { throw PolicyError(path: ["batch_size"], message: "must be 1 to 1000") }
        guard (1...3).contains(smsMaxSegments) else { throw PolicyError(path: ["sms_max_segments"], message: "must be 1 to 3") }
    }

    /// Seconds to wait after `failures` failed attempts (1 or more): the base doubled for each
    /// earlier failure, capped at the maximum, then spread by `jitter` (0 to 1) over its upper
    /// half so that messages failing together do not all come back at once.
    public func retryDelay(afterFailures failures: Int, jitter: Double) -> Int {
        let doublings = min(max(failures, 1) - 1, 20)  // bounded before the shift: 2^20 · 3600 fits
        let delay = min(backoffBaseSeconds << doublings, backoffMaxSeconds)
        let spread = jitter.isFinite ? min(max(jitter, 0), 1) : 0
        return max(1, delay / 2 + Int((Double(delay - delay / 2) * spread).rounded(.down)))
    }
}

/// SMS length, as operators bill it.
public enum SMSText {
    /// GSM 03.38 basic characters: a text made only of them packs 160 to a segment (153 when
    /// split); anything else (Chinese) is sent as UCS-2, 70 to a segment (67 when split).
    static let gsm: Set<Character> = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )

    /// The number of segments `text` takes.
    public static func segments(_ text: String) -> Int {
        let isGSM = text.allSatisfy { gsm.contains($0) }
        let units = isGSM ? text.count : text.utf16.count
        let (single, part) = isGSM ? (160, 153) : (70, 67)
        if units <= single { return 1 }
        return (units + part - 1) / part
    }
}
