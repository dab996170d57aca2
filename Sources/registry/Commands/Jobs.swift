import ArgumentParser
import Foundation
import Logging
import RegistryDomain
import RegistryServices

struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The time-driven jobs: each one's schedule, last run, duration, rows touched and last error.",
        subcommands: [List.self, Run.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the jobs with their last run (the default).")

        func run() async throws {
            let statuses = try await withRegistry(migrate: false) { registry, logger in
                try await registry.scheduler.status(logger: logger)
            }
            let formatter = ISO8601DateFormatter()
            print("JOB                  EVERY    RUNS  FAILS  LAST RUN              AS OF       MS        ROWS  LAST ERROR")
            for s in statuses {
                let every =
                    s.everySeconds % 3600 == 0
                    ? "\(s.everySeconds / 3600)h" : s.everySeconds % 60 == 0 ? "\(s.everySeconds / 60)m" : "\(s.everySeconds)s"
                let fields = [
                    s.name.padding(toLength: 20, withPad: " ", startingAt: 0),
                    s.every.padding(toLength: 8, withPad: " ", startingAt: 0),
                    String(s.runs).padding(toLength: 5, withPad: " ", startingAt: 0),
                    String(s.failures).padding(toLength: 6, withPad: " ", startingAt: 0),
                    (s.lastStartedAt.map { formatter.string(from: $0) } ?? "never").padding(toLength: 21, withPad: " ", startingAt: 0),
                    (s.lastAsOf ?? "-").padding(toLength: 11, withPad: " ", startingAt: 0),
                    (s.lastDurationMS.map { String(format: "%.1f", $0) } ?? "-").padding(toLength: 9, withPad: " ", startingAt: 0),
                    (s.lastRows.map(String.init) ?? "-").padding(toLength: 5, withPad: " ", startingAt: 0),
                    s.lastError ?? "",
                ]
                print(fields.joined(separator: " "))
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one job now and record the run; with --as-of, as if today were that day (China time).",
            discussion: "Safe beside running service nodes: every job claims its rows or writes what another run would write."
        )

        @Argument(
            help:
                "The job: flag-expiry, transfer-deadlines, case-deadlines, credential-expiry, grade-refresh, housekeeping, audit-checkpoint, calendar-check."
        )
        var name: String

        @Option(name: .customLong("as-of"), help: "Run as of this day (YYYY-MM-DD) instead of today.")
        var asOf: String?

        func validate() throws {
            guard SchedulePolicy.jobNames.contains(name) else {
                throw ValidationError("no job called '\(name)' (the jobs: \(SchedulePolicy.jobNames.joined(separator: ", ")))")
            }
            if let asOf, CivilDate(iso: asOf) == nil { throw ValidationError("--as-of must be a date like 2027-01-31") }
        }

        func run() async throws {
            let clock = RegistryClock()
            if let asOf, let day = CivilDate(iso: asOf) { clock.advance(days: day.daysSinceEpoch - clock.today.daysSinceEpoch) }
            let outcome = try await withRegistry(migrate: false, clock: clock) { registry, logger in
                try await registry.scheduler.run(name, logger: logger)
            }
            print("\(outcome.job) as of \(outcome.asOf.iso): \(outcome.rows) rows in \(String(format: "%.3f", outcome.seconds)) s")
        }
    }
}
