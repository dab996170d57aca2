import Foundation
import Logging
import PostgresNIO

/// The record of each scheduled job's runs (`job_runs`), shared by every node.
public enum JobStore {
    /// What the table says of one job.
    public struct Run: Sendable, Equatable {
        public var job: String
        public var runs: Int64
        public var failures: Int64
        public var lastStartedAt: Date?
        public var lastFinishedAt: Date?
        public var lastDurationMS: Double?
        public var lastRows: Int64?
        public var lastError: String?
        public var lastNode: String?
        /// The registry day (YYYY-MM-DD) of the last successful run.
        public var lastAsOf: String?
        public var lastSuccessAt: Date?
    }

    /// Records a finished run: a success (with its rows and the day it ran as of) or a failure
    /// (with the class of its error).
    public static func record(
        job: String,
        startedAt: Date,
        finishedAt: Date,
        rows: Int,
        error: String?,
        node: String,
        asOf: String,
        database: Database,
        logger: Logger
    ) async throws {
        let duration = max(0, finishedAt.timeIntervalSince(startedAt) * 1000)
        let failed = error != nil
        let error = error.map { String($0.prefix(500)) }
        let node = String(node.prefix(200))
        try await database.query(
            """
            INSERT INTO job_runs AS j (job, runs, failures, last_started_at, last_finished_at, last_duration_ms, last_rows, last_error,
                                       last_node, last_as_of, last_success_at)
            VALUES (\(job), 1, CASE WHEN \(failed) THEN 1 ELSE 0 END, \(startedAt), \(finishedAt), \(duration), \(Int64(max(rows, 0))), \(error),
                    \(node), CASE WHEN \(failed) THEN NULL ELSE \(asOf)::date END, CASE WHEN \(failed) THEN NULL ELSE \(finishedAt) END)
            ON CONFLICT (job) DO UPDATE SET
                runs = j.runs + 1,
                failures = j.failures + CASE WHEN \(failed) THEN 1 ELSE 0 END,
                last_started_at = EXCLUDED.last_started_at,
                last_finished_at = EXCLUDED.last_finished_at,
                last_duration_ms = EXCLUDED.last_duration_ms,
                last_rows = EXCLUDED.last_rows,
                last_error = EXCLUDED.last_error,
                last_node = EXCLUDED.last_node,
                last_as_of = CASE WHEN \(failed) THEN j.last_as_of ELSE GREATEST(j.last_as_of, EXCLUDED.last_as_of) END,
                last_success_at = COALESCE(EXCLUDED.last_success_at, j.last_success_at)
            """,
            logger: logger
        )
    }

    /// The day the job last ran successfully as of (YYYY-MM-DD), nil before its first success.
    public static func lastAsOf(job: String, database: Database, logger: Logger) async throws -> String? {
        for try await day in try await database.query("SELECT last_as_of::text FROM job_runs WHERE job = \(job)", logger: logger)
            .decode(String?.self)
        {
            return day
        }
        return nil
    }

    /// Every job's record.
    public static func list(database: Database, logger: Logger) async throws -> [Run] {
        var runs: [Run] = []
        let rows = try await database.query(
            """
            SELECT job, runs, failures, last_started_at, last_finished_at, last_duration_ms, last_rows, last_error, last_node,
                   last_as_of::text, last_success_at
            FROM job_runs ORDER BY job
            """,
            logger: logger
        )
        for try await row in rows.decode(
            (String, Int64, Int64, Date?, Date?, Double?, Int64?, String?, String?, String?, Date?).self
        ) {
            runs.append(
                Run(
                    job: row.0,
                    runs: row.1,
                    failures: row.2,
                    lastStartedAt: row.3,
                    lastFinishedAt: row.4,
                    lastDurationMS: row.5,
                    lastRows: row.6,
                    lastError: row.7,
                    lastNode: row.8,
                    lastAsOf: row.9,
                    lastSuccessAt: row.10
                )
            )
        }
        return runs
    }
}
