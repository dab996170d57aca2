import Foundation
import Logging
import PostgresNIO

/// Grades, their history, the grade queue, and the grader's inputs read in batches (one query per
/// table). The rows come back as stored; the grading service turns them into the grader's input.
public enum GradeStore {
    // MARK: The grade queue

    /// Queues a worker whose grade inputs changed (drained by the grader service), in the change's
    /// own transaction.
    public static func enqueue(_ workerID: UUID, reason: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO grade_queue (worker_id, cause) VALUES (\(workerID), \(reason))
            ON CONFLICT (worker_id) DO UPDATE SET cause = EXCLUDED.cause, enqueued_at = now()
            """,
            logger: logger
        )
    }

    /// Queues many workers at once (a batch job's), in the change's own transaction.
    public static func enqueueAll(_ workerIDs: [UUID], reason: String, on connection: PostgresConnection, logger: Logger) async throws {
        guard !workerIDs.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO grade_queue (worker_id, cause) SELECT DISTINCT w, \(reason) FROM unnest(\(workerIDs)::uuid[]) AS u(w)
            ON CONFLICT (worker_id) DO UPDATE SET cause = EXCLUDED.cause, enqueued_at = now()
            """,
            logger: logger
        )
    }

    /// Up to `limit` queued workers, oldest first, locked (skipping those another node holds).
    public static func claimQueued(limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [(workerID: UUID, cause: String)] {
        var rows: [(workerID: UUID, cause: String)] = []
        for try await (id, cause) in try await connection.query(
            """
            SELECT worker_id, cause FROM grade_queue ORDER BY enqueued_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            """,
            logger: logger
        ).decode((UUID, String).self) {
            rows.append((id, cause))
        }
        return rows
    }

    /// Removes these workers from the queue.
    public static func dequeue(_ workerIDs: [UUID], on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("DELETE FROM grade_queue WHERE worker_id = ANY(\(workerIDs))", logger: logger)
    }

    // MARK: Workers to regrade

    /// Every worker's id, in id order (a batch's entries then lie together in each table's
    /// index on worker_id).
    public static func allWorkerIDs(on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await connection.query("SELECT id FROM workers ORDER BY id", logger: logger).decode(UUID.self) {
            ids.append(id)
        }
        return ids
    }

    // MARK: The grader's inputs

    /// One worker's records that the grader reads, apart from her reviews: each table's rows as
    /// parallel arrays (dates as ISO text, an absent category or expiry as an empty string).
    public struct FileRows: Sendable {
        public var workerID: UUID
        /// A ban in force.
        public var barred: Bool
        /// A suspension in force.
        public var suspended: Bool
        public var assessmentCategories: [String]
        public var assessmentLevels: [Int]
        public var assessedOn: [String]
        public var qualificationKinds: [String]
        public var qualificationCategories: [String]
        public var qualificationIssuedOn: [String]
        public var qualificationExpiresOn: [String]
        public var healthIssuedOn: [String]
        public var healthValidUntil: [String]
        public var healthResults: [String]
        /// The agencies' ethics ratings of her tenures; an assessment overturned on her dispute
        /// (an annotation) no longer counts.
        public var ratings: [Int]
        public var ratedOn: [String]
        public var ratingSealed: [Bool]
        /// The flags on her file; a repaired flag (an approved repair) no longer counts.
        public var flagCategories: [String]
        public var flagSeverities: [Int]
        public var flagStatuses: [String]
        public var flagOccurredOn: [String]
        public var flagExpiresOn: [String]
    }

    /// The records of a batch of workers apart from their reviews, one row per worker, in one
    /// query (every table's rows gathered per worker by the database).
    public static func files(workerIDs ids: [UUID], on connection: PostgresConnection, logger: Logger) async throws -> [FileRows] {
        var files: [FileRows] = []
        files.reserveCapacity(ids.count)
        let rows = try await connection.query(
            """
            SELECT w.id,
                   EXISTS (SELECT 1 FROM bans b WHERE b.worker_id = w.id AND b.lifted_at IS NULL),
                   EXISTS (SELECT 1 FROM suspensions s WHERE s.worker_id = w.id AND s.lifted_at IS NULL),
                   a.categories, a.levels, a.days, q.kinds, q.categories, q.issued, q.expires, h.issued, h.until, h.results,
                   t.ratings, t.days, t.sealed, f.categories, f.severities, f.statuses, f.occurred, f.expires
            FROM workers w
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(category), '{}') AS categories, coalesce(array_agg(level::int8), '{}') AS levels,
                       coalesce(array_agg(assessed_on::text), '{}') AS days
                FROM skill_assessments WHERE worker_id = w.id) a
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(kind), '{}') AS kinds, coalesce(array_agg(coalesce(category, '')), '{}') AS categories,
                       coalesce(array_agg(issued_on::text), '{}') AS issued, coalesce(array_agg(coalesce(expires_on::text, '')), '{}') AS expires
                FROM trainings WHERE worker_id = w.id) q
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(issued_on::text), '{}') AS issued, coalesce(array_agg(valid_until::text), '{}') AS until,
                       coalesce(array_agg(result), '{}') AS results
                FROM health_certificates WHERE worker_id = w.id) h
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(ethics_rating::int8), '{}') AS ratings,
                       coalesce(array_agg(coalesce(ended_on, updated_at::date)::text), '{}') AS days,
                       coalesce(array_agg(sealed_at IS NOT NULL), '{}') AS sealed
                FROM tenures t WHERE t.worker_id = w.id AND t.ethics_rating IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM tenure_annotations n WHERE n.tenure_id = t.id)) t
            CROSS JOIN LATERAL (
                SELECT coalesce(array_agg(category), '{}') AS categories, coalesce(array_agg(severity::int8), '{}') AS severities,
                       coalesce(array_agg(status), '{}') AS statuses, coalesce(array_agg(occurred_on::text), '{}') AS occurred,
                       coalesce(array_agg(coalesce(expires_on::text, '')), '{}') AS expires
                FROM flags f WHERE f.worker_id = w.id
                  AND NOT EXISTS (SELECT 1 FROM flag_repairs r WHERE r.flag_id = f.id AND r.status = 'approved')) f
            WHERE w.id = ANY(\(ids))
            """,
            logger: logger
        )
        for try await row in rows {
            let c = row.makeRandomAccess()
            files.append(
                FileRows(
                    workerID: try c[0].decode(UUID.self),
                    barred: try c[1].decode(Bool.self),
                    suspended: try c[2].decode(Bool.self),
                    assessmentCategories: try c[3].decode([String].self),
                    assessmentLevels: try c[4].decode([Int].self),
                    assessedOn: try c[5].decode([String].self),
                    qualificationKinds: try c[6].decode([String].self),
                    qualificationCategories: try c[7].decode([String].self),
                    qualificationIssuedOn: try c[8].decode([String].self),
                    qualificationExpiresOn: try c[9].decode([String].self),
                    healthIssuedOn: try c[10].decode([String].self),
                    healthValidUntil: try c[11].decode([String].self),
                    healthResults: try c[12].decode([String].self),
                    ratings: try c[13].decode([Int].self),
                    ratedOn: try c[14].decode([String].self),
                    ratingSealed: try c[15].decode([Bool].self),
                    flagCategories: try c[16].decode([String].self),
                    flagSeverities: try c[17].decode([Int].self),
                    flagStatuses: try c[18].decode([String].self),
                    flagOccurredOn: try c[19].decode([String].self),
                    flagExpiresOn: try c[20].decode([String].self)
                )
            )
        }
        return files
    }

    /// A visible review as the grader reads it: its engagement's category and each side's
    /// dimension names with their scores (the columns kept beside the jsonb objects, on the
    /// review's own row).
    public struct ReviewRow: Sendable {
        public var workerID: UUID
        public var reviewedOn: String
        public var category: String
        public var skillDimensions: [String]
        public var skillScores: [Int]
        public var ethicsDimensions: [String]
        public var ethicsScores: [Int]
    }

    /// The visible reviews of a batch of workers, read from the covering index
    /// `reviews_grading_idx` alone (no lookup into the table nor into engagements).
    public static func reviews(workerIDs ids: [UUID], on connection: PostgresConnection, logger: Logger) async throws -> [ReviewRow] {
        var reviews: [ReviewRow] = []
        reviews.reserveCapacity(ids.count * 10)
        let rows = try await connection.query(
            """
            SELECT worker_id, created_at::date::text, category, skill_dimensions, skill_values::int8[], ethics_dimensions,
                   ethics_values::int8[]
            FROM reviews WHERE worker_id = ANY(\(ids)) AND hidden_at IS NULL
            """,
            logger: logger
        )
        for try await row in rows {
            let c = row.makeRandomAccess()
            reviews.append(
                ReviewRow(
                    workerID: try c[0].decode(UUID.self),
                    reviewedOn: try c[1].decode(String.self),
                    category: try c[2].decode(String.self),
                    skillDimensions: try c[3].decode([String].self),
                    skillScores: try c[4].decode([Int].self),
                    ethicsDimensions: try c[5].decode([String].self),
                    ethicsScores: try c[6].decode([Int].self)
                )
            )
        }
        return reviews
    }

    // MARK: Grades

    /// The current grades of these workers, locked for the regrade.
    public static func lockGrades(
        workerIDs ids: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(workerID: UUID, grade: String, composite: Double, policyVersion: String)] {
        var rows: [(workerID: UUID, grade: String, composite: Double, policyVersion: String)] = []
        for try await row in try await connection.query(
            """
            SELECT worker_id, grade, composite::float8, policy_version FROM grades WHERE worker_id = ANY(\(ids)) FOR UPDATE
            """,
            logger: logger
        ).decode((UUID, String, Double, String).self) {
            rows.append(row)
        }
        return rows
    }

    /// Stores computed grades, one element of each array per worker (levels, reasons and
    /// computations as JSON text).
    public static func upsertGrades(
        workerIDs rowIDs: [UUID],
        grades: [String],
        composites: [Double],
        ethics: [Double],
        skills: [Double],
        levels: [String],
        reasons: [String],
        computations: [String],
        policyVersion: String,
        asOf: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO grades (worker_id, grade, composite, ethics_score, skill_score, skill_levels, reasons, computation, policy_version,
                                computed_at, as_of)
            SELECT w, g, c, e, s, l::jsonb, r::jsonb, x::jsonb, \(policyVersion), now(), \(asOf)::date
            FROM unnest(\(rowIDs)::uuid[], \(grades)::text[], \(composites)::float8[], \(ethics)::float8[], \(skills)::float8[],
                        \(levels)::text[], \(reasons)::text[], \(computations)::text[]) AS u(w, g, c, e, s, l, r, x)
            ON CONFLICT (worker_id) DO UPDATE SET grade = EXCLUDED.grade, composite = EXCLUDED.composite, ethics_score = EXCLUDED.ethics_score,
                skill_score = EXCLUDED.skill_score, skill_levels = EXCLUDED.skill_levels, reasons = EXCLUDED.reasons,
                computation = EXCLUDED.computation, policy_version = EXCLUDED.policy_version, computed_at = now(),
                as_of = EXCLUDED.as_of
            """,
            logger: logger
        )
    }

    /// Records changed grade letters, one element of each array per change (`from` empty for a
    /// first grade, reasons as JSON text).
    public static func appendHistory(
        workerIDs historyIDs: [UUID],
        from historyFrom: [String],
        to historyTo: [String],
        composites historyComposite: [Double],
        reasons historyReasons: [String],
        policyVersion: String,
        cause: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO grade_history (worker_id, from_grade, to_grade, composite, reasons, policy_version, cause)
            SELECT w, nullif(f, ''), t, c, r::jsonb, \(policyVersion), \(cause)
            FROM unnest(\(historyIDs)::uuid[], \(historyFrom)::text[], \(historyTo)::text[], \(historyComposite)::float8[], \(historyReasons)::text[])
                AS u(w, f, t, c, r)
            """,
            logger: logger
        )
    }

    public typealias Grade = (
        grade: String, composite: Double, ethicsScore: Double, skillScore: Double, skillLevels: String, reasons: String,
        policyVersion: String, computedAt: Date
    )

    /// A worker's grade (skill levels and reasons as JSON text), nil when none was computed.
    public static func grade(_ workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Grade? {
        var found: Grade?
        for try await row in try await connection.query(
            """
            SELECT grade, composite::float8, ethics_score::float8, skill_score::float8, skill_levels::text, reasons::text, policy_version, computed_at
            FROM grades WHERE worker_id = \(workerID)
            """,
            logger: logger
        ).decode((String, Double, Double, Double, String, String, String, Date).self) {
            found = row
        }
        return found
    }

    /// A worker's grade changes, oldest first.
    public static func history(
        _ workerID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(fromGrade: String?, toGrade: String, composite: Double, cause: String, changedAt: Date)] {
        var rows: [(fromGrade: String?, toGrade: String, composite: Double, cause: String, changedAt: Date)] = []
        for try await row in try await connection.query(
            """
            SELECT from_grade, to_grade, composite::float8, cause, changed_at FROM grade_history WHERE worker_id = \(workerID) ORDER BY changed_at
            """,
            logger: logger
        ).decode((String?, String, Double, String, Date).self) {
            rows.append(row)
        }
        return rows
    }
}
