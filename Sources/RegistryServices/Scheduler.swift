import Foundation
import Logging
import Metrics
import RegistryDomain
import RegistryStorage

/// One of the registry's time-driven jobs: what it does, how often (`Policies/schedule.yaml`),
/// and its body, which returns the rows it touched. Every body is idempotent, set-based, safe
/// with several nodes running it at once, and cheap when nothing is due.
public struct ScheduledJob: Sendable {
    public let name: String
    public let summary: String
    /// Seconds between two runs.
    public let every: Int
    let body: @Sendable (JobContext) async throws -> Int
}

/// What a job's body is told: the registry's day and the day of the job's last successful run.
public struct JobContext: Sendable {
    public let today: CivilDate
    /// The day of the job's last successful run (nil before the first): what became due since
    /// then is due now.
    public let lastAsOf: CivilDate?
    public let logger: Logger
}

/// The scheduler: runs each job on its interval (every node runs every job), records each run in
/// `job_runs` and in the metrics, and runs one on request (`registry jobs run`).
public struct Scheduler: Sendable {
    let database: Database
    let clock: RegistryClock
    public let jobs: [ScheduledJob]
    /// This node, as the job records name it (host and process).
    public let node: String

    init(database: Database, clock: RegistryClock, jobs: [ScheduledJob]) {
        self.database = database
        self.clock = clock
        self.jobs = jobs
        self.node = ProcessInfo.processInfo.hostName + ":" + String(ProcessInfo.processInfo.processIdentifier)
    }

    /// A job and its record.
    public struct Status: Sendable, Equatable, Codable {
        public var name: String
        public var summary: String
        public var everySeconds: Int
        public var runs: Int64
        public var failures: Int64
        public var lastStartedAt: Date?
        public var lastDurationMS: Double?
        public var lastRows: Int64?
        public var lastError: String?
        public var lastNode: String?
        public var lastAsOf: String?
        public var lastSuccessAt: Date?

        /// The interval as people write it: `30s`, `5m`, `1h`.
        public var every: String {
            everySeconds % 3600 == 0 ? "\(everySeconds / 3600)h" : everySeconds % 60 == 0 ? "\(everySeconds / 60)m" : "\(everySeconds)s"
        }

        enum CodingKeys: String, CodingKey {
            case name, summary, runs, failures
            case everySeconds = "every_seconds"
            case lastStartedAt = "last_started_at"
            case lastDurationMS = "last_duration_ms"
            case lastRows = "last_rows"
            case lastError = "last_error"
            case lastNode = "last_node"
            case lastAsOf = "last_as_of"
            case lastSuccessAt = "last_success_at"
        }
    }

    /// What one run did.
    public struct Outcome: Sendable, Equatable {
        public var job: String
        public var rows: Int
        public var seconds: Double
        public var asOf: CivilDate
    }

    /// Every job with its last run, in schedule order.
    public func status(logger: Logger) async throws -> [Status] {
        let runs = Dictionary(uniqueKeysWithValues: try await JobStore.list(database: database, logger: logger).map { ($0.job, $0) })
        return jobs.map { job in
            let run = runs[job.name]
            return Status(
                name: job.name,
                summary: job.summary,
                everySeconds: job.every,
                runs: run?.runs ?? 0,
                failures: run?.failures ?? 0,
                lastStartedAt: run?.lastStartedAt,
                lastDurationMS: run?.lastDurationMS,
                lastRows: run?.lastRows,
                lastError: run?.lastError,
                lastNode: run?.lastNode,
                lastAsOf: run?.lastAsOf,
                lastSuccessAt: run?.lastSuccessAt
            )
        }
    }

    /// The job called `name`; `RegistryError.notFound` for any other name.
    public func job(_ name: String) throws(RegistryError) -> ScheduledJob {
        guard let job = jobs.first(where: { $0.name == name }) else {
            throw RegistryError(
                .notFound,
                code: "no_such_job",
                message: "There is no job called '\(name)' (the jobs: \(jobs.map(\.name).joined(separator: ", ")))."
            )
        }
        return job
    }

    /// Runs `name` once now (on the registry's clock), records the run, and returns what it did;
    /// a failure is recorded and rethrown.
    @discardableResult
    public func run(_ name: String, logger: Logger) async throws -> Outcome {
        try await run(job(name), logger: logger)
    }

    /// An administrator runs `name` now (the admin page, the API): the run is recorded like any
    /// other and the request is audited (`job.run`).
    @discardableResult
    public func runNow(_ name: String, caller: Caller, logger: Logger) async throws -> Outcome {
        let job = try job(name)
        try await database.transaction(logger: logger) { connection in
            try await AuditStore.append(caller.event("job.run", "job", nil, ["job": .string(name)]), on: connection, logger: logger)
        }
        return try await run(job, logger: logger)
    }

    func run(_ job: ScheduledJob, logger: Logger) async throws -> Outcome {
        let today = clock.today
        let dimensions = [("job", job.name)]
        let lastAsOf = try await JobStore.lastAsOf(job: job.name, database: database, logger: logger).flatMap(CivilDate.init(iso:))
        let started = clock.now
        let clockStart = ContinuousClock.now
        var rows = 0
        var failure: String?
        do {
            rows = try await job.body(JobContext(today: today, lastAsOf: lastAsOf, logger: logger))
        } catch {
            failure = String((DatabaseFailure.summary(error) ?? String(describing: error)).prefix(500))
        }
        let elapsed = ContinuousClock.now - clockStart
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        Counter(label: "registry_job_runs_total", dimensions: dimensions).increment()
        Metrics.Timer(label: "registry_job_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds).record(duration: elapsed)
        Counter(label: "registry_job_rows_total", dimensions: dimensions).increment(by: rows)
        if failure != nil { Counter(label: "registry_job_failures_total", dimensions: dimensions).increment() }
        try await JobStore.record(
            job: job.name,
            startedAt: started,
            finishedAt: started.addingTimeInterval(seconds),
            rows: rows,
            error: failure,
            node: node,
            asOf: today.iso,
            database: database,
            logger: logger
        )
        if let failure { throw JobFailure(job: job.name, reason: failure) }
        if rows > 0 { logger.info("job ran", metadata: ["job": "\(job.name)", "rows": "\(rows)", "seconds": "\(seconds)"]) }
        return Outcome(job: job.name, rows: rows, seconds: seconds, asOf: today)
    }

    /// One periodic service per job, for the service's lifecycle.
    public func services(logger: Logger) -> [PeriodicService] {
        jobs.map { job in
            PeriodicService(job.name, every: .seconds(job.every), logger: logger) { _ = try await run(job, logger: logger) }
        }
    }
}

/// A job's run failed; its record names the class of the error.
public struct JobFailure: Error, CustomStringConvertible {
    public var job: String
    public var reason: String
    public var description: String { "job \(job) failed: \(reason)" }
}
