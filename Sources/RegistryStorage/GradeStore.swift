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

    /// One of a worker's records that the grader reads, apart from her reviews: which table it
    /// comes from and its values in a shape shared by all of them (days since 1970-01-01).
    public enum FileRecord: Sendable, Equatable {
        /// A ban in force.
        case barred
        /// A suspension in force.
        case suspended
        case assessment(category: String, level: Int, assessedOn: Int)
        case qualification(kind: String, category: String?, issuedOn: Int, expiresOn: Int?)
        case health(issuedOn: Int, validUntil: Int, result: String)
        /// An agency's ethics rating of her tenure; one overturned on her dispute (an annotation)
        /// is not read.
        case rating(rating: Int, ratedOn: Int, sealed: Bool)
        /// A flag on her file; a repaired flag (an approved repair) is not read.
        case flag(category: String, severity: Int, status: String, occurredOn: Int, expiresOn: Int?)
        /// A service category she is registered in.
        case category(String)
    }

    /// The records of a batch of workers apart from their reviews, in one statement: each table
    /// read once for the whole batch through its `worker_id` index (no subquery per worker), its
    /// rows in one shape tagged with their kind, dates as days since 1970-01-01.
    public static func files(workerIDs ids: [UUID], on connection: PostgresConnection, logger: Logger) async throws -> [(UUID, FileRecord)] {
        var records: [(UUID, FileRecord)] = []
        records.reserveCapacity(ids.count * 4)
        let rows = try await connection.query(
            """
            WITH ids AS (SELECT \(ids)::uuid[] AS ids)
            SELECT worker_id, 1::int8 AS kind, category AS a, NULL::text AS b, level::int8 AS n,
                   (assessed_on - DATE '1970-01-01')::int8 AS d1, NULL::int8 AS d2, false AS sealed
            FROM skill_assessments WHERE worker_id = ANY((SELECT ids FROM ids)::uuid[])
            UNION ALL
            SELECT worker_id, 2, kind, category, NULL, (issued_on - DATE '1970-01-01'), (expires_on - DATE '1970-01-01'), false
            FROM trainings WHERE worker_id = ANY((SELECT ids FROM ids)::uuid[])
            UNION ALL
            SELECT worker_id, 3, result, NULL, NULL, (issued_on - DATE '1970-01-01'), (valid_until - DATE '1970-01-01'), false
            FROM health_certificates WHERE worker_id = ANY((SELECT ids FROM ids)::uuid[])
            UNION ALL
            SELECT t.worker_id, 4, NULL, NULL, t.ethics_rating, (coalesce(t.ended_on, t.updated_at::date) - DATE '1970-01-01'), NULL,
                   t.sealed_at IS NOT NULL
            FROM tenures t WHERE t.worker_id = ANY((SELECT ids FROM ids)::uuid[]) AND t.ethics_rating IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM tenure_annotations n WHERE n.tenure_id = t.id)
            UNION ALL
            SELECT f.worker_id, 5, f.category, f.status, f.severity, (f.occurred_on - DATE '1970-01-01'),
                   (f.expires_on - DATE '1970-01-01'), false
            FROM flags f WHERE f.worker_id = ANY((SELECT ids FROM ids)::uuid[])
              AND NOT EXISTS (SELECT 1 FROM flag_repairs r WHERE r.flag_id = f.id AND r.status = 'approved')
            UNION ALL
            SELECT worker_id, 6, NULL, NULL, NULL, NULL, NULL, false FROM bans
            WHERE worker_id = ANY((SELECT ids FROM ids)::uuid[]) AND lifted_at IS NULL
            UNION ALL
            SELECT worker_id, 7, NULL, NULL, NULL, NULL, NULL, false FROM suspensions
            WHERE worker_id = ANY((SELECT ids FROM ids)::uuid[]) AND lifted_at IS NULL
            UNION ALL
            SELECT w.id, 8, c.name, NULL, NULL, NULL, NULL, false
            FROM workers w CROSS JOIN LATERAL unnest(w.service_categories) AS c(name)
            WHERE w.id = ANY((SELECT ids FROM ids)::uuid[])
            """,
            logger: logger
        )
        for try await row in rows {
            let c = row.makeRandomAccess()
            let worker = try c[0].decode(UUID.self)
            let a = try c[2].decode(String?.self)
            let b = try c[3].decode(String?.self)
            let n = try c[4].decode(Int?.self)
            let d1 = try c[5].decode(Int?.self)
            let d2 = try c[6].decode(Int?.self)
            let record: FileRecord? =
                switch try c[1].decode(Int.self) {
                case 1: a.flatMap { a in n.flatMap { n in d1.map { .assessment(category: a, level: n, assessedOn: $0) } } }
                case 2: a.flatMap { a in d1.map { .qualification(kind: a, category: b, issuedOn: $0, expiresOn: d2) } }
                case 3: a.flatMap { a in d1.flatMap { d1 in d2.map { .health(issuedOn: d1, validUntil: $0, result: a) } } }
                case 4: n.flatMap { n in d1.map { .rating(rating: n, ratedOn: $0, sealed: (try? c[7].decode(Bool.self)) ?? false) } }
                case 5:
                    a.flatMap { a in
                        b.flatMap { b in n.flatMap { n in d1.map { .flag(category: a, severity: n, status: b, occurredOn: $0, expiresOn: d2) } } }
                    }
                case 6: .barred
                case 7: .suspended
                case 8: a.map { .category($0) }
                default: nil
                }
            if let record { records.append((worker, record)) }
        }
        return records
    }

    /// A visible review as the grader reads it: its engagement's category and each side's
    /// dimension names with their scores (the columns kept beside the jsonb objects, on the
    /// review's own row).
    public struct ReviewRow: Sendable {
        public var workerID: UUID
        /// The day of the review, as days since 1970-01-01.
        public var reviewedOn: Int
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
            SELECT worker_id, (created_at::date - DATE '1970-01-01')::int8, category, skill_dimensions, skill_values::int8[], ethics_dimensions,
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
                    reviewedOn: try c[1].decode(Int.self),
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
                                computed_at, as_of, grade_since)
            SELECT w, g, c, e, s, l::jsonb, r::jsonb, x::jsonb, \(policyVersion), now(), \(asOf)::date, \(asOf)::date
            FROM unnest(\(rowIDs)::uuid[], \(grades)::text[], \(composites)::float8[], \(ethics)::float8[], \(skills)::float8[],
                        \(levels)::text[], \(reasons)::text[], \(computations)::text[]) AS u(w, g, c, e, s, l, r, x)
            ON CONFLICT (worker_id) DO UPDATE SET grade = EXCLUDED.grade, composite = EXCLUDED.composite, ethics_score = EXCLUDED.ethics_score,
                skill_score = EXCLUDED.skill_score, skill_levels = EXCLUDED.skill_levels, reasons = EXCLUDED.reasons,
                computation = EXCLUDED.computation, policy_version = EXCLUDED.policy_version, computed_at = now(),
                as_of = EXCLUDED.as_of,
                grade_since = CASE WHEN grades.grade = EXCLUDED.grade THEN grades.grade_since ELSE EXCLUDED.as_of END
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
