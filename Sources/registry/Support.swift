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

/// Everything a command needs: configuration, policies, keys, a migrated database and a pool.
/// The embedded cluster is stopped when the body ends or fails, if this process started it.
func withRegistry<T: Sendable>(
    migrate: Bool,
    demo: Bool = false,
    clock: RegistryClock = .system,
    _ body: (Registry, Logger) async throws -> T
) async throws -> T {
    var configuration = try Configuration.fromEnvironment()
    configuration.demoMode = demo
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = configuration.logLevel
        return handler
    }
    var logger = Logger(label: "registry")
    logger.logLevel = configuration.logLevel
    let loading = ContinuousClock.now
    let policies = try PolicySet.load(directory: configuration.policiesDirectory)
    let elapsed = ContinuousClock.now - loading
    logger.info(
        "policies loaded and validated",
        metadata: [
            "ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            "sectors": "\(policies.sectors.sectors.count)", "categories": "\(policies.sectors.categoryIDs.count)",
        ]
    )
    let keys = try configuration.loadKeys(demo: demo)
    let runtime = try await DatabaseRuntime.prepare(configuration, logger: logger)
    do {
        if migrate {
            let applied = try await runtime.migrate(migrationsDirectory: configuration.migrationsDirectory, logger: logger)
            if !applied.isEmpty { logger.info("migrations applied", metadata: ["versions": "\(applied)"]) }
        }
        let result = try await withDatabase(
            runtime.endpoint,
            maxConnections: configuration.poolSize,
            readCopy: try DatabaseRuntime.readCopy(configuration),
            logger: logger
        ) { database in
            let registry = try Registry(configuration: configuration, policies: policies, database: database, keys: keys, clock: clock)
            if !migrate, !(await registry.isReady(logger: logger)) {
                throw ValidationError("the database schema is not current: run `registry migrate`")
            }
            return try await body(registry, logger)
        }
        runtime.stop(logger: logger)
        return result
    } catch {
        runtime.stop(logger: logger)
        throw error
    }
}

/// Writes a line to standard output at once (not through stdio's buffer), so that what `serve`
/// prints before it starts serving is seen even when its output is a pipe.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// The one progress line every long command shows on standard error: each update replaces the
/// line (carriage return and erase), `finish` ends it; `bar` and `rate` format the common parts.
/// Standard output keeps only the results, so they can be piped.
enum ProgressLine {
    static func update(_ text: String) {
        FileHandle.standardError.write(Data("\r\u{1B}[K  \(text)".utf8))
    }

    static func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    /// `[#########.....] 60%`, thirty characters wide.
    static func bar(_ done: Int, of total: Int) -> String {
        let percent = total <= 0 ? 100 : min(100, max(0, done) * 100 / total)
        let filled = percent * 30 / 100
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "] \(percent)%"
    }

    /// Seconds since `start` and the rate of `count` items in them, as the summaries print them.
    static func elapsed(since start: ContinuousClock.Instant, count: Int) -> (seconds: String, rate: String) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (String(format: "%.1f", seconds), String(format: "%.0f", Double(count) / max(seconds, 0.001)))
    }
}
