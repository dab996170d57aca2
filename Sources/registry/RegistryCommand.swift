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

@main
struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "The domestic service worker credit registry.",
        discussion: "Configuration comes from the environment (see README.md): PORT, HOST, REGISTRY_DATA_DIR, DATABASE_URL, LOG_LEVEL, ...",
        subcommands: [
            Serve.self, Migrate.self, CreateAdmin.self, Demo.self, BenchHash.self, ImportWorkers.self, ImportFlags.self, Regrade.self,
            ReportCommand.self, DB.self, Policies.self, Audit.self, Keys.self,
        ],
        defaultSubcommand: Serve.self
    )
}

/// Everything a command needs: configuration, policies, keys, a migrated database and a pool.
/// The embedded cluster is stopped when the body ends or fails, if this process started it.
func withRegistry<T: Sendable>(migrate: Bool, demo: Bool = false, _ body: (Registry, Logger) async throws -> T) async throws -> T {
    let configuration = try Configuration.fromEnvironment()
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = configuration.logLevel
        return handler
    }
    var logger = Logger(label: "registry")
    logger.logLevel = configuration.logLevel
    let policies = try PolicySet.load(directory: configuration.policiesDirectory)
    let keys = try configuration.loadKeys(demo: demo)
    let runtime = try await DatabaseRuntime.prepare(configuration, logger: logger)
    do {
        if migrate {
            let applied = try await runtime.migrate(migrationsDirectory: configuration.migrationsDirectory, logger: logger)
            if !applied.isEmpty { logger.info("migrations applied", metadata: ["versions": "\(applied)"]) }
        }
        let result = try await withPostgresClient(
            runtime.endpoint.clientConfiguration(asOwner: false, maxConnections: configuration.poolSize),
            logger: logger
        ) { client in
            let database = Database(client: client, maxConnections: configuration.poolSize)
            let registry = try Registry(configuration: configuration, policies: policies, database: database, keys: keys)
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

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Migrate, then serve the web UI and the JSON API (default command)."
    )

    @Flag(help: "Load the demo data first when the database has no administrator yet.")
    var demo = false

    func run() async throws {
        try await withRegistry(migrate: true, demo: demo) { registry, logger in
            if demo {
                let summary = try await DemoData.loadIfEmpty(registry, logger: logger)
                if summary.created, let password = summary.adminPassword {
                    say(
                        """

                        Demo data loaded. Sign in at http://\(registry.configuration.host):\(registry.configuration.port)/
                          e-mail:   \(summary.adminEmail)
                          password: \(password)
                        (also saved in \(summary.credentialsFile))

                        """
                    )
                } else {
                    say("Demo administrator: \(summary.adminEmail), password in \(summary.credentialsFile)")
                }
            }
            let app = buildApplication(registry, logger: logger)
            logger.info("serving", metadata: ["address": "\(registry.configuration.host):\(registry.configuration.port)"])
            try await app.runService()
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending migrations and exit.")

    func run() async throws {
        try await withRegistry(migrate: true) { registry, _ in
            print("migrations current: \(registry.migrator.migrations.map(\.name).joined(separator: ", "))")
        }
    }
}

struct CreateAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-admin",
        abstract: "Create an administrator. The password is read from standard input (or prompted for)."
    )

    @Option(help: "The administrator's e-mail address (the sign-in name).")
    var email: String

    @Option(help: "The name shown in the audit log and pages.")
    var name: String = "Administrator"

    func run() async throws {
        let password = try readPassword()
        try await withRegistry(migrate: true) { registry, logger in
            let id = try await registry.auth.createAdmin(email: email, password: password, displayName: name, logger: logger)
            print("administrator created: \(id.uuidString.lowercased())")
        }
    }

    func readPassword() throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            guard let first = getpass("Password: ").map({ String(cString: $0) }),
                let second = getpass("Again: ").map({ String(cString: $0) })
            else { throw ValidationError("no password given") }
            guard first == second else { throw ValidationError("the passwords differ") }
            return first
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("give the password on standard input")
        }
        return line
    }
}

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
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
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
        FileHandle.standardError.write(
            Data("\r\u{1B}[K  \(p.phase): \(grouped(p.done))/\(grouped(p.total)) (\(percent)%), \(grouped(Int(p.rate))) \(p.unit)/s".utf8)
        )
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

struct DB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Database helpers.",
        subcommands: [URLCommand.self]
    )

    struct URLCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print the connection string for psql (starts the embedded cluster if needed)."
        )

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            let logger = Logger(label: "registry")
            if let url = configuration.databaseURL {
                print(try DatabaseEndpoint(url: url).displayURL)
                return
            }
            let cluster = EmbeddedPostgres(dataDirectory: configuration.dataDirectory + "/postgres")
            let outcome = try cluster.start(logger: logger)
            if outcome == .started {
                FileHandle.standardError.write(
                    Data(
                        "started the embedded cluster; it keeps running (stop it with: pg_ctl -D \(configuration.dataDirectory)/postgres/pg stop)\n"
                            .utf8
                    )
                )
            }
            FileHandle.standardError.write(Data("the owner's password is in \(configuration.dataDirectory)/postgres/credentials.json\n".utf8))
            print(cluster.endpoint().displayURL)
        }
    }
}

struct Policies: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies",
        abstract: "Policy files.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate Policies/*.yaml without serving.")

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            do {
                let set = try PolicySet.load(directory: configuration.policiesDirectory)
                print(
                    "policies valid: access v\(set.access.version) (\(set.access.actions.count) actions), authentication v\(set.authentication.version)"
                )
            } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The audit chain.",
        subcommands: [Verify.self, Checkpoint.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the chain; name the first broken row (exit 1), else print the count and head."
        )

        @Option(help: "A checkpoints file (JSON lines) kept outside the database; default: the data folder's.")
        var checkpoints: String?

        func run() async throws {
            let intact = try await withRegistry(migrate: false) { registry, logger in
                try await AuditStore.integrateAll(database: registry.database, logger: logger)
                let saved: [AuditStore.Head]
                if let checkpoints {
                    let text = try String(contentsOfFile: checkpoints, encoding: .utf8)
                    saved = try text.split(separator: "\n").map { try JSONDecoder().decode(AuditStore.Head.self, from: Data($0.utf8)) }
                } else {
                    saved = try registry.savedCheckpoints()
                }
                let (result, checkpoint) = try await AuditStore.verifyChain(database: registry.database, checkpoints: saved, logger: logger)
                switch result {
                case .intact(let count, let head):
                    print("audit chain intact: \(count) rows, head \(head) (every hash recomputed here, not by the database)")
                    if let checkpoint {
                        print(
                            "checked against checkpoint at link \(checkpoint.seq) (\(checkpoint.hash)), taken \(checkpoint.takenAt ?? "?"), "
                                + "one of \(saved.count) in \(checkpoints ?? registry.configuration.checkpointsFile)"
                        )
                    } else {
                        print("no checkpoint to check against: take one with `registry audit checkpoint` and keep the file outside the database")
                    }
                    return true
                case .broken(let seq, let event, let reason):
                    print("audit chain BROKEN at link \(seq) (event \(event)): \(reason)")
                    return false
                }
            }
            if !intact { throw ExitCode(1) }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the chain's head and save it (data folder and database) to catch a rewritten chain later."
        )

        func run() async throws {
            try await withRegistry(migrate: false) { registry, logger in
                let head = try await registry.saveCheckpoint(logger: logger)
                print("checkpoint: link \(head.seq), head \(head.hash) (saved in \(registry.configuration.checkpointsFile))")
            }
        }
    }
}

struct ImportWorkers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-workers",
        abstract: "Register an agency's roster from a CSV file (id_number,full_name,sex,phone,home_region,service_categories).",
        discussion: """
            Every row is validated; valid rows are registered in batches of 1000, invalid rows are reported with their line \
            number and reason, rows whose ID number already has a file are reported (already registered, or transfer needed). \
            Running the same file again creates nothing twice. Categories within a field are separated by ';'. \
            Rejected records are written, with their line and reason, to FILE.rejects.csv beside the input (or --rejects), \
            and the exit status is then 2.
            """
    )

    @Option(help: "The id of the (approved) agency that takes custody.")
    var agency: String

    @Argument(help: "The CSV file, with a header line.")
    var file: String

    @Option(help: "Where to write the rejected records (default: FILE.rejects.csv beside the input).")
    var rejects: String?

    @Flag(help: "Print every line's outcome, not only the problems.")
    var verbose = false

    func run() async throws {
        guard let agencyID = UUID(uuidString: agency) else { throw ValidationError("--agency must be an agency id (a UUID)") }
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let records = CSV.parse(String(decoding: data, as: UTF8.self))
        guard let header = records.first else { throw ValidationError("\(file) is empty") }
        let columns = try WorkerImport.columns(header.fields)
        let rows = Array(records.dropFirst())
        let total = rows.count
        let started = ContinuousClock.now
        let summary = try await withRegistry(migrate: false) { registry, logger in
            try await registry.workerImport.run(
                records: rows,
                columns: columns,
                agencyID: agencyID,
                caller: .system,
                keepAllLines: verbose,
                logger: logger
            ) { done in
                let percent = total == 0 ? 100 : done * 100 / total
                FileHandle.standardError.write(Data("\r  registering: \(done) valid rows processed of \(total) lines (\(percent)%)".utf8))
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        FileHandle.standardError.write(Data("\n".utf8))
        for line in summary.lines {
            print("line \(line.line): \(line.outcome.rawValue)" + (line.reason.map { " — \($0)" } ?? ""))
        }
        print(
            """
            created \(summary.created), already registered \(summary.alreadyRegistered), transfer needed \(summary.transferNeeded), \
            rejected \(summary.rejected) — \(total) lines in \(String(format: "%.1f", seconds)) s \
            (\(String(format: "%.0f", Double(total) / max(seconds, 0.001))) lines/s)
            """
        )
        // Like import-flags: every rejected record, as it was in the file, with its line and reason; exit status 2.
        let rejected = summary.lines.filter { $0.outcome == .rejected }
        guard rejected.isEmpty else {
            var byLine: [Int: CSV.Record] = [:]
            for row in rows where byLine[row.line] == nil { byLine[row.line] = row }
            func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
            let path = rejects ?? file + ".rejects.csv"
            try FlagImport.writeRejects(
                rejected.map { r in
                    FlagImport.Rejected(
                        line: r.line,
                        reason: r.reason ?? "rejected",
                        record: byLine[r.line].map { $0.fields.map(quoted).joined(separator: ",") }
                    )
                },
                to: path
            )
            print("every rejected record, with its line and reason: \(path)")
            throw ExitCode(2)
        }
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Signed credit reports.",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a signed report (the JSON from GET /api/v1/workers/{id}/report?signed=true). Exit 0 when valid, 1 when not."
        )

        @Argument(help: "The signed report file.")
        var file: String

        @Option(name: .customLong("public-key"), help: "Verify against this base64 Ed25519 key instead of this registry's own.")
        var publicKey: String?

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let document: ReportService.SignedReport
            do {
                document = try JSONDecoder().decode(ReportService.SignedReport.self, from: data)
            } catch {
                print("not a signed report: \(file) must hold payload, signature, algorithm and public_key")
                throw ExitCode(1)
            }
            let key: Curve25519.Signing.PublicKey
            if let publicKey {
                guard let raw = Data(base64Encoded: publicKey), let k = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                    throw ValidationError("--public-key must be a base64 Ed25519 public key (32 bytes)")
                }
                key = k
            } else {
                key = try Configuration.fromEnvironment().loadKeys().signingKey.publicKey
            }
            let result = ReportService.verify(document, publicKey: key)
            if result.valid {
                print(
                    "valid: report on worker \(result.workerId ?? "?") issued \(result.issuedAt ?? "?"), valid until \(result.expiresAt ?? "?"), "
                        + "signed by this registry's key \(result.keyId ?? "?")"
                )
            } else {
                print("INVALID: \(result.reason ?? "the signature does not match")")
                throw ExitCode(1)
            }
        }
    }
}

struct ImportFlags: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-flags",
        abstract: "Import a source's flag file (id_number,reference,category,severity,status,occurred_on,expires_on,narrative).",
        discussion: """
            Lines are validated and streamed with COPY into a staging table, then merged set-based into the flags: new \
            references are created, changed ones updated (the old version kept), equal ones unchanged — so re-running a file \
            is a no-op. Malformed lines never stop the good ones: each is listed by number with its reason, and every \
            rejected record is written, with its line number and reason, to FILE.rejects.csv beside the input (or --rejects). \
            Exit status: 0 when every line was imported, 2 when some lines were rejected, 1 on an error that stopped the import.
            """
    )

    @Option(help: "The integration source's name (as registered by an administrator).")
    var source: String

    @Argument(help: "The CSV file, with a header line.")
    var file: String

    @Option(help: "Where to write the rejected records (default: FILE.rejects.csv beside the input).")
    var rejects: String?

    func run() async throws {
        let started = ContinuousClock.now
        let summary = try await withRegistry(migrate: false) { registry, logger in
            try await registry.flagImport.run(path: file, sourceName: source, logger: logger) { phase in
                switch phase {
                case .staging(let lines):
                    FileHandle.standardError.write(Data("\r  reading and staging: \(lines) lines".utf8))
                case .merging(let done, let total):
                    let percent = total == 0 ? 100 : min(100, done * 100 / total)
                    let width = 30
                    let bar = String(repeating: "#", count: percent * width / 100) + String(repeating: ".", count: width - percent * width / 100)
                    FileHandle.standardError.write(Data("\r  merging [\(bar)] \(percent)%            ".utf8))
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        FileHandle.standardError.write(Data("\n".utf8))
        for r in summary.rejectedLines.prefix(20) { print("line \(r.line): rejected — \(r.reason)") }
        if summary.rejectedLines.count > 20 { print("… and \(summary.rejectedLines.count - 20) more rejected lines") }
        print(
            """
            \(summary.lines) lines: created \(summary.created), updated \(summary.updated), unchanged \(summary.unchanged), \
            rejected \(summary.rejected); \(summary.attachedToFiles) on existing files — \(String(format: "%.1f", seconds)) s \
            (\(String(format: "%.0f", Double(summary.lines) / max(seconds, 0.001))) lines/s)
            """
        )
        guard summary.rejectedLines.isEmpty else {
            let path = rejects ?? file + ".rejects.csv"
            try FlagImport.writeRejects(summary.rejectedLines, to: path)
            print("every rejected record, with its line and reason: \(path)")
            throw ExitCode(2)
        }
    }
}

struct Regrade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompute grades: the queued workers, or with --all everyone (after a policy change), in batches."
    )

    @Flag(help: "Recompute every worker's grade with the current Policies/grading.yaml.")
    var all = false

    func run() async throws {
        let started = ContinuousClock.now
        let count = try await withRegistry(migrate: false) { registry, logger in
            if all {
                return try await registry.grading.regradeAll(logger: logger) { done, total in
                    let percent = total == 0 ? 100 : done * 100 / total
                    let bar = String(repeating: "#", count: percent * 30 / 100) + String(repeating: ".", count: 30 - percent * 30 / 100)
                    FileHandle.standardError.write(Data("\r  regrading [\(bar)] \(done)/\(total)".utf8))
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
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        FileHandle.standardError.write(Data("\n".utf8))
        print(
            "regraded \(count) workers in \(String(format: "%.1f", seconds)) s (\(String(format: "%.0f", Double(count) / max(seconds, 0.001))) workers/s)"
        )
    }
}

/// Writes a line to standard output at once (not through stdio's buffer), so that what `serve`
/// prints before it starts serving is seen even when its output is a pipe.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The sealing keys: rotate to a new version, re-seal what the old ones sealed, or show which versions are in use.",
        subcommands: [Rotate.self, Reseal.self, Status.self]
    )

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new sealing key version to the keys file, make it current, and re-seal every ID number, narrative and secret.",
            discussion: """
                The old versions stay in the keys file, so values sealed under them still open. Restart every registry node with \
                the new keys file, then run `registry keys reseal` once more to catch what a node still sealed under the old \
                version meanwhile. The blind index and signing keys do not change.
                """
        )

        func run() async throws {
            let configuration = try Configuration.fromEnvironment()
            let old = try configuration.loadKeys()
            let rotated = old.addingSealingVersion()
            try configuration.saveKeys(rotated)
            print("sealing key version \(rotated.currentSealingVersion) added to \(configuration.keysFile) and made current")
            try await Reseal.reseal()
        }
    }

    struct Reseal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every value not sealed under the current key version (bound to its row); safe to run again."
        )

        func run() async throws { try await Self.reseal() }

        static func reseal() async throws {
            let started = ContinuousClock.now
            let summary = try await withRegistry(migrate: false) { registry, logger in
                try await KeyRotation(database: registry.database, keys: registry.keys).reseal(logger: logger) { s in
                    FileHandle.standardError.write(
                        Data("\r  re-sealed \(s.workers) ID numbers and \(s.narratives) narratives (\(s.examined) rows read)".utf8)
                    )
                }
            }
            let elapsed = ContinuousClock.now - started
            FileHandle.standardError.write(Data("\n".utf8))
            print(
                "re-sealed \(summary.workers) ID numbers, \(summary.narratives) narratives and \(summary.secrets) secrets in \(elapsed.components.seconds) s"
            )
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Which sealing key versions exist and how many ID numbers each seals.")

        func run() async throws {
            try await withRegistry(migrate: false) { registry, logger in
                let counts = try await KeyRotation(database: registry.database, keys: registry.keys).versions(logger: logger)
                for version in registry.keys.sealingKeys.keys.sorted() {
                    print(
                        "version \(version)\(version == registry.keys.currentSealingVersion ? " (current)" : ""): \(counts[version] ?? 0) ID numbers"
                    )
                }
            }
        }
    }
}
