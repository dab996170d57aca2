import ArgumentParser
import Crypto
import Foundation
import Hummingbird
import Logging
import RegistryDemo
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the demo data (when the registry is empty); with --workers, a synthetic data set at scale.",
        discussion: """
            Without options: an administrator, two agencies with staff, six workers with their files. With --workers N: N workers \
            with valid, sealed ID numbers, --agencies approved agencies with staff, tenures and transfers, employers, engagements \
            with --reviews-per-worker verified reviews, qualifications, --flags police and credit-bureau flags, and grades. \
            Refused when the registry already holds workers, unless --force. Accounts use REGISTRY_DEMO_PASSWORD (or a random \
            password, printed and saved in the data folder).
            """
    )

    @Option(help: "Generate a synthetic data set with this many workers instead of the small demo.")
    var workers: Int?

    @Option(help: "Approved agencies (default: one per 100 workers, at most 200).")
    var agencies: Int?

    @Option(name: .customLong("staff-per-agency"), help: "Staff accounts per agency.")
    var staffPerAgency = 2

    @Option(name: .customLong("reviews-per-worker"), help: "Engagements per worker, each with its verified review.")
    var reviewsPerWorker = 10

    @Option(help: "Police and credit-bureau flags (default: as many as workers).")
    var flags: Int?

    @Option(help: "Employer households (default: as many as workers).")
    var employers: Int?

    @Option(help: "Employers and workers who sign in with the demo password (for benchmarks).")
    var accounts = 20

    @Option(help: "Seed of the generator, to generate the same people again (keys and row ids stay random).")
    var seed: UInt64?

    @Option(help: "Database sessions working at once.")
    var jobs = 2

    @Flag(help: "Add a data set even though the registry already holds workers.")
    var force = false

    func validate() throws {
        if workers == nil, agencies != nil || flags != nil || employers != nil || seed != nil || force {
            throw ValidationError("--agencies, --flags, --employers, --seed and --force go with --workers")
        }
    }

    func run() async throws {
        guard let workers else {
            try await withRegistry(migrate: true, demo: true) { registry, logger in
                let summary = try await DemoData.loadIfEmpty(registry, logger: logger)
                if summary.created {
                    print("demo data loaded; administrator \(summary.adminEmail), password: \(summary.adminPassword ?? "")")
                } else {
                    print("the registry already has data; nothing loaded (demo administrator: \(summary.adminEmail), see \(summary.credentialsFile))")
                }
            }
            return
        }
        let options = ScaleDemo.Options(
            workers: workers,
            agencies: agencies,
            staffPerAgency: staffPerAgency,
            reviewsPerWorker: reviewsPerWorker,
            flags: flags,
            employers: employers,
            accountsWithPassword: accounts,
            force: force,
            seed: seed,
            jobs: jobs
        )
        let summary: ScaleDemo.Summary
        do {
            summary = try await withRegistry(migrate: true) { registry, logger in
                try await ScaleDemo(registry: registry, options: options, logger: logger).run(progress: Self.show)
            }
        } catch let error as RegistryError {
            FileHandle.standardError.write(Data("registry demo: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        print("")
        for (table, rows) in summary.rows.sorted(by: { $0.key < $1.key }) {
            print("  \(table.padding(toLength: 34, withPad: " ", startingAt: 0)) \(Self.grouped(rows))")
        }
        print(
            """

            scale demo data loaded in \(String(format: "%.1f", summary.seconds)) s (seed \(options.seed)); administrator \(summary.adminEmail), \
            password: \(summary.adminPassword ?? "unchanged") — accounts in \(summary.credentialsFile)
            """
        )
    }

    static let shown = Mutex(ContinuousClock.now)

    /// A progress line per phase on standard error, and the phase's rate on standard output.
    @Sendable static func show(_ p: ScaleDemo.Progress) {
        if p.finished {
            ProgressLine.finish()
            let rows = grouped(p.done)
            say(
                "  \(p.phase)\(String(repeating: " ", count: max(1, 48 - p.phase.count)))\(String(repeating: " ", count: max(0, 11 - rows.count)))\(rows) \(p.unit) in "
                    + String(format: "%7.1f", p.seconds)
                    + " s (\(grouped(Int(p.rate))) \(p.unit)/s; \(grouped(p.rows)) rows, \(grouped(Int(p.rowRate))) rows/s)"
            )
            return
        }
        let due = shown.withLock { last -> Bool in
            guard ContinuousClock.now - last > .milliseconds(300) else { return false }
            last = ContinuousClock.now
            return true
        }
        guard due else { return }
        let percent = p.total == 0 ? 100 : min(100, p.done * 100 / p.total)
        ProgressLine.update("\(p.phase): \(grouped(p.done))/\(grouped(p.total)) (\(percent)%), \(grouped(Int(p.rate))) \(p.unit)/s")
    }

    static func grouped(_ n: Int) -> String {
        let digits = Array(String(abs(n)))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return (n < 0 ? "-" : "") + out
    }
}
