import CArgon2
import Dispatch
import Foundation
import RegistryDomain
import Synchronization

/// A bound on the argon2id runs in flight in this process. Each run takes about 19 MiB and a
/// core for tens of milliseconds; past the bound a request is answered 503 with Retry-After at
/// once, instead of queueing memory and threads until the process falls over.
public final class HashGate: Sendable {
    public let limit: Int
    private let running = Mutex(0)

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes a slot; false when all are taken.
    func enter() -> Bool {
        running.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func leave() {
        running.withLock { $0 -= 1 }
        finished.withLock { $0 += 1 }
    }

    public var inFlight: Int { running.withLock { $0 } }

    /// How many hashes or verifications this node has computed (each costs the same memory and time).
    public var completed: Int { finished.withLock { $0 } }
    private let finished = Mutex(0)

    public static let busy = RegistryError(
        .unavailable,
        code: "busy",
        message: "The registry is busy. Try again in a moment.",
        details: ["retry_after": "1"]
    )
}

/// argon2id through libargon2. Parameters are kept in the PHC string, so they can be raised
/// later and old hashes rehashed at the next successful login.
public struct PasswordHasher: Sendable {
    public struct Parameters: Sendable, Equatable {
        /// Memory in KiB.
        public var memory: UInt32
        public var iterations: UInt32
        public var parallelism: UInt32

        /// OWASP password storage cheat sheet minimum for argon2id.
        public static let owasp = Parameters(memory: 19_456, iterations: 2, parallelism: 1)

        public init(memory: UInt32, iterations: UInt32, parallelism: UInt32) {
            self.memory = memory
            self.iterations = iterations
            self.parallelism = parallelism
        }
    }

    public let parameters: Parameters
    /// Shared by every copy of this hasher.
    public let gate: HashGate
    static let saltLength = 16
    static let hashLength = 32
    /// Passwords longer than this are refused before hashing (a cheap denial of service otherwise).
    public static let maxPasswordBytes = 1024

    /// `concurrency`: argon2id runs allowed at once (default: four per core, about 76 MiB per core).
    public init(parameters: Parameters = .owasp, concurrency: Int? = nil) {
        self.parameters = parameters
        self.gate = HashGate(limit: concurrency ?? 4 * System.coreCount)
    }

    /// Hashes synchronously (blocks the calling thread for tens of milliseconds).
    public func hashBlocking(_ password: String) throws(RegistryError) -> String {
        let pwd = Array(password.utf8)
        guard pwd.count <= Self.maxPasswordBytes else { throw .invalid("password", "The password is too long.") }
        var rng = SystemRandomNumberGenerator()
        let salt = (0..<Self.saltLength).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
        let length = argon2_encodedlen(
            parameters.iterations,
            parameters.memory,
            parameters.parallelism,
            UInt32(Self.saltLength),
            UInt32(Self.hashLength),
            Argon2_id
        )
        var encoded = [CChar](repeating: 0, count: length)
        let rc = argon2id_hash_encoded(
            parameters.iterations,
            parameters.memory,
            parameters.parallelism,
            pwd,
            pwd.count,
            salt,
            salt.count,
            Self.hashLength,
            &encoded,
            length
        )
        guard rc == ARGON2_OK.rawValue else {
            throw RegistryError(.unavailable, code: "hash_failed", message: "Could not hash the password.")
        }
        let bytes = encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Verifies synchronously. A malformed hash verifies as false.
    public func verifyBlocking(_ password: String, hash: String) -> Bool {
        let pwd = Array(password.utf8)
        guard pwd.count <= Self.maxPasswordBytes else { return false }
        return hash.withCString { encoded in
            argon2id_verify(encoded, pwd, pwd.count) == ARGON2_OK.rawValue
        }
    }

    /// Hashes on a background thread, off the caller's executor; 503 `busy` when the gate is full.
    public func hash(_ password: String) async throws -> String {
        guard gate.enter() else { throw HashGate.busy }
        defer { gate.leave() }
        return try await Self.offload { try self.hashBlocking(password) }
    }

    /// Verifies on a background thread; 503 `busy` when the gate is full.
    public func verify(_ password: String, hash: String) async throws -> Bool {
        guard gate.enter() else { throw HashGate.busy }
        defer { gate.leave() }
        return (try? await Self.offload { self.verifyBlocking(password, hash: hash) }) ?? false
    }

    /// True when `hash` was made with other parameters than the current ones.
    public func needsRehash(_ hash: String) -> Bool {
        guard let found = Self.parameters(of: hash) else { return true }
        return found != parameters
    }

    /// Reads `m`, `t` and `p` from `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`.
    public static func parameters(of hash: String) -> Parameters? {
        let parts = hash.split(separator: "$")
        guard parts.count == 5, parts[0] == "argon2id" else { return nil }
        var values: [Substring: UInt32] = [:]
        for pair in parts[2].split(separator: ",") {
            let kv = pair.split(separator: "=")
            guard kv.count == 2, let v = UInt32(kv[1]) else { return nil }
            values[kv[0]] = v
        }
        guard let m = values["m"], let t = values["t"], let p = values["p"] else { return nil }
        return Parameters(memory: m, iterations: t, parallelism: p)
    }

    /// A hash of a random password, verified against when an account does not exist, so that
    /// the answer takes as long as for a real account.
    public func decoyHash() -> String {
        (try? hashBlocking(TokenGenerator.token())) ?? ""
    }

    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}

enum System {
    /// The cores this process may use.
    static var coreCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
}
