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

struct Regrade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompute grades: the queued workers, or with --all everyone (after a policy change), in batches."
    )

    @Flag(help: "Recompute every worker's grade with the current Policies/grading.yaml.")
    var all = false

    @Option(help: "With --all: batches graded at once, each on its own database connection (default: one per core).")
    var connections: Int?

    func run() async throws {
        let started = ContinuousClock.now
        let count = try await withRegistry(migrate: false) { registry, logger in
            if all {
                return try await registry.grading.regradeAll(connections: connections, logger: logger) { done, total in
                    ProgressLine.update("regrading \(ProgressLine.bar(done, of: total)) \(done)/\(total)")
                }
            }
            var n = 0
            while true {
                let d = try await registry.grading.drainQueue(logger: logger)
                if d == 0 { break }
                n += d
            }
            return n
        }
        let (seconds, rate) = ProgressLine.elapsed(since: started, count: count)
        ProgressLine.finish()
        print(
            "regraded \(count) workers in \(seconds) s (\(rate) workers/s)"
        )
    }
}
