import ArgumentParser
import Crypto
import Foundation
import Hummingbird
import Logging
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Measures the argon2id ceiling of sign-in: password verifications per second with the
/// service's own hasher and parameters, on every core (for `make bench`).
struct BenchHash: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-hash",
        abstract: "Measure argon2id verifications per second with the service's parameters.",
        shouldDisplay: false
    )

    @Option(help: "How long to measure.")
    var seconds = 10.0

    @Option(help: "Threads hashing at once (default: the number of cores).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func run() async throws {
        let hasher = PasswordHasher()
        let hash = try hasher.hashBlocking("benchmark password 1")
        let counts = Mutex([Int](repeating: 0, count: threads))
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int(seconds * 1000))
        DispatchQueue.concurrentPerform(iterations: threads) { i in
            var n = 0
            while ContinuousClock.now < deadline {
                _ = hasher.verifyBlocking("benchmark password 1", hash: hash)
                n += 1
            }
            counts.withLock { $0[i] = n }
        }
        let elapsed = ContinuousClock.now - start
        let total = counts.withLock { $0.reduce(0, +) }
        let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let p = hasher.parameters
        print(
            "argon2id m=\(p.memory) KiB t=\(p.iterations) p=\(p.parallelism): \(total) verifications in \(String(format: "%.1f", s)) s on \(threads) threads: \(String(format: "%.1f", Double(total) / s)) per second"
        )
    }
}
