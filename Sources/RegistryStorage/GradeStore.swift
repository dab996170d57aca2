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

    public static func workerCount(on connection: PostgresConnection, logger: Logger) async throws -> Int {
        var n = 0
        for try await c in try await connection.query("SELECT count(*)::int FROM workers", logger: logger).decode(Int.self) { n = c }
        return n
    }

    /// The ids of up to `limit` workers after `after`, in id order.
    public static func workerIDs(after: UUID, limit: Int, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await connection.query(
            """
            SELECT id FROM workers WHERE id > \(after) ORDER BY id LIMIT \(limit)
            """,
            logger: logger
        ).decode(UUID.self) { ids.append(id) }
        return ids
    }

    // MARK: The grader's inputs

    public static func skillAssessments(
        workerIDs ids: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(workerID: UUID, category: String, level: Int, assessedOn: String)] {
        var rows: [(workerID: UUID, category: String, level: Int, assessedOn: String)] = []
        for try await row in try await connection.query(
            """
            SELECT worker_id, category, level::int, assessed_on::text FROM skill_assessments WHERE worker_id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, String, Int, String).self) {
            rows.append(row)
        }
        return rows
    }

    public static func trainings(
        workerIDs ids: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(workerID: UUID, kind: String, category: String?, issuedOn: String, expiresOn: String?)] {
        var rows: [(workerID: UUID, kind: String, category: String?, issuedOn: String, expiresOn: String?)] = []
        for try await row in try await connection.query(
            """
            SELECT worker_id, kind, category, issued_on::text, expires_on::text FROM trainings WHERE worker_id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, String, String?, String, String?).self) {
            rows.append(row)
        }
        return rows
    }

    public static func healthCertificates(
        workerIDs ids: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(workerID: UUID, issuedOn: String, validUntil: String, result: String)] {
        var rows: [(workerID: UUID, issuedOn: String, validUntil: String, result: String)] = []
        for try await row in try await connection.query(
            """
            SELECT worker_id, issued_on::text, valid_until::text, result FROM health_certificates WHERE worker_id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, String, String, String).self) {
            rows.append(row)
        }
        return rows
    }

    /// The visible reviews, with the engagement's category and the scores as JSON text.
    public static func reviews(
        workerIDs ids: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(workerID: UUID, reviewedOn: String, category: String, skillScores: String, ethicsScores: String)] {
        var rows: [(workerID: UUID, reviewedOn: String, category: String, skillScores: String, ethicsScores: String)] = []
        for try await row in try await connection.query(
            """
            SELECT r.worker_id, r.created_at::date::text, e.category, r.skill_scores::text, r.ethics_scores::text
            FROM reviews r JOIN engagements e ON e.id = r.engagement_id
            WHERE r.worker_id = ANY(\(ids)) AND r.hidden_at IS NULL
            """,
            logger: logger
        ).decode((UUID, String, String, String, String).self) {
            rows.append(row)
        }
        return rows
    }

    /// The agencies' ethics ratings of their tenures; an assessment overturned on a worker's
    /// dispute (an annotation) no longer counts.
    public static func agencyRatings(
        workerIDs ids: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(workerID: UUID, rating: Int, ratedOn: String, sealed: Bool)] {
        var rows: [(workerID: UUID, rating: Int, ratedOn: String, sealed: Bool)] = []
        for try await row in try await connection.query(
            """
            SELECT worker_id, ethics_rating::int, coalesce(ended_on, updated_at::date)::text, sealed_at IS NOT NULL
            FROM tenures t WHERE worker_id = ANY(\(ids)) AND ethics_rating IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM tenure_annotations n WHERE n.tenure_id = t.id)
            """,
            logger: logger
        ).decode((UUID, Int, String, Bool).self) {
            rows.append(row)
        }
        return rows
    }

    /// The flags on the files; a repaired flag (an approved repair) no longer counts.
    public static func flags(
        workerIDs ids: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(workerID: UUID, category: String, severity: Int, status: String, occurredOn: String, expiresOn: String?)] {
        var rows: [(workerID: UUID, category: String, severity: Int, status: String, occurredOn: String, expiresOn: String?)] = []
        for try await row in try await connection.query(
            """
            SELECT worker_id, category, severity::int, status, occurred_on::text, expires_on::text FROM flags f WHERE worker_id = ANY(\(ids))
              AND NOT EXISTS (SELECT 1 FROM flag_repairs r WHERE r.flag_id = f.id AND r.status = 'approved')
            """,
            logger: logger
        ).decode((UUID, String, Int, String, String, String?).self) {
            rows.append(row)
        }
        return rows
    }

    /// Whether each worker has a ban or a suspension in force.
    public static func standing(
        workerIDs ids: [UUID],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [(workerID: UUID, barred: Bool, suspended: Bool)] {
        var rows: [(workerID: UUID, barred: Bool, suspended: Bool)] = []
        for try await row in try await connection.query(
            """
            SELECT w.id, EXISTS (SELECT 1 FROM bans b WHERE b.worker_id = w.id AND b.lifted_at IS NULL),
                   EXISTS (SELECT 1 FROM suspensions s WHERE s.worker_id = w.id AND s.lifted_at IS NULL)
            FROM workers w WHERE w.id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, Bool, Bool).self) {
            rows.append(row)
        }
        return rows
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
