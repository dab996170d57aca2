import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryStorage
import ServiceLifecycle

/// Computes workers' grades with the pure grader and keeps them current: every change to a
/// grade's inputs queues the worker (`grade_queue`, in the change's own transaction); the queue
/// is drained with `FOR UPDATE SKIP LOCKED` (safe on several nodes, never lost, never applied
/// twice); `regradeAll` recomputes everyone in set-based batches after a policy change.
public struct GradingService: Sendable {
    let database: Database
    public let policy: GradingPolicy
    let grader: Grader

    init(database: Database, policy: GradingPolicy) throws {
        self.database = database
        self.policy = policy
        self.grader = try Grader(policy: policy)
    }

    static func day(_ text: String) -> CivilDate? { CivilDate(iso: String(text.prefix(10))) }

    /// The grader's inputs for a batch of workers, one query per table.
    func inputs(_ ids: [UUID], today: CivilDate, on connection: PostgresConnection, logger: Logger) async throws -> [UUID: GradingInput] {
        var inputs = Dictionary(uniqueKeysWithValues: ids.map { ($0, GradingInput(today: today)) })
        for try await (w, category, level, on) in try await connection.query(
            """
            SELECT worker_id, category, level::int, assessed_on::text FROM skill_assessments WHERE worker_id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, String, Int, String).self) {
            guard let c = ServiceCategory(rawValue: category), let d = Self.day(on) else { continue }
            inputs[w]?.assessments.append(.init(category: c, level: level, assessedOn: d))
        }
        for try await (w, kind, category, issued, expires) in try await connection.query(
            """
            SELECT worker_id, kind, category, issued_on::text, expires_on::text FROM trainings WHERE worker_id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, String, String?, String, String?).self) {
            guard let k = QualificationKind(rawValue: kind), let d = Self.day(issued) else { continue }
            inputs[w]?.qualifications.append(
                .init(
                    kind: k,
                    category: category.flatMap(ServiceCategory.init(rawValue:)),
                    issuedOn: d,
                    expiresOn: expires.flatMap(Self.day)
                )
            )
        }
        for try await (w, issued, until, result) in try await connection.query(
            """
            SELECT worker_id, issued_on::text, valid_until::text, result FROM health_certificates WHERE worker_id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, String, String, String).self) {
            guard let i = Self.day(issued), let u = Self.day(until) else { continue }
            inputs[w]?.healthCertificates.append(.init(issuedOn: i, validUntil: u, result: HealthResult(rawValue: result) ?? .fit))
        }
        let decoder = JSONDecoder()
        for try await (w, on, category, skill, ethics) in try await connection.query(
            """
            SELECT r.worker_id, r.created_at::date::text, e.category, r.skill_scores::text, r.ethics_scores::text
            FROM reviews r JOIN engagements e ON e.id = r.engagement_id
            WHERE r.worker_id = ANY(\(ids)) AND r.hidden_at IS NULL
            """,
            logger: logger
        ).decode((UUID, String, String, String, String).self) {
            guard let d = Self.day(on) else { continue }
            inputs[w]?.reviews.append(
                .init(
                    reviewedOn: d,
                    category: ServiceCategory(rawValue: category),
                    skill: (try? decoder.decode([String: Int].self, from: Data(skill.utf8))) ?? [:],
                    ethics: (try? decoder.decode([String: Int].self, from: Data(ethics.utf8))) ?? [:]
                )
            )
        }
        for try await (w, rating, on, sealed) in try await connection.query(
            """
            SELECT worker_id, ethics_rating::int, coalesce(ended_on, updated_at::date)::text, sealed_at IS NOT NULL
            FROM tenures WHERE worker_id = ANY(\(ids)) AND ethics_rating IS NOT NULL
            """,
            logger: logger
        ).decode((UUID, Int, String, Bool).self) {
            guard let d = Self.day(on) else { continue }
            inputs[w]?.agencyRatings.append(.init(rating: rating, ratedOn: d, sealed: sealed))
        }
        for try await (w, category, severity, status, occurred, expires) in try await connection.query(
            """
            SELECT worker_id, category, severity::int, status, occurred_on::text, expires_on::text FROM flags WHERE worker_id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, String, Int, String, String, String?).self) {
            guard let c = FlagCategory(rawValue: category), let s = FlagStatus(rawValue: status), let o = Self.day(occurred) else { continue }
            inputs[w]?.flags.append(.init(category: c, severity: severity, status: s, occurredOn: o, expiresOn: expires.flatMap(Self.day)))
        }
        for try await (w, barred, suspended) in try await connection.query(
            """
            SELECT w.id, EXISTS (SELECT 1 FROM bans b WHERE b.worker_id = w.id AND b.lifted_at IS NULL),
                   EXISTS (SELECT 1 FROM suspensions s WHERE s.worker_id = w.id AND s.lifted_at IS NULL)
            FROM workers w WHERE w.id = ANY(\(ids))
            """,
            logger: logger
        ).decode((UUID, Bool, Bool).self) {
            inputs[w]?.barred = barred
            inputs[w]?.suspended = suspended
        }
        return inputs
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// Recomputes and stores the grades of these workers; a changed grade letter goes to the history.
    @discardableResult
    public func regrade(_ ids: [UUID], cause: String, on connection: PostgresConnection, logger: Logger) async throws -> [UUID: GradeResult] {
        guard !ids.isEmpty else { return [:] }
        let today = CivilDate.today()
        var previous: [UUID: GradeSnapshot] = [:]
        for try await (w, grade, composite, version) in try await connection.query(
            """
            SELECT worker_id, grade, composite::float8, policy_version FROM grades WHERE worker_id = ANY(\(ids)) FOR UPDATE
            """,
            logger: logger
        ).decode((UUID, String, Double, String).self) {
            if let g = CreditGrade(rawValue: grade) { previous[w] = GradeSnapshot(grade: g, composite: composite, policyVersion: version) }
        }
        let inputs = try await inputs(ids, today: today, on: connection, logger: logger)
        var results: [UUID: GradeResult] = [:]
        var rowIDs: [UUID] = []
        var grades: [String] = []
        var composites: [Double] = []
        var ethics: [Double] = []
        var skills: [Double] = []
        var levels: [String] = []
        var reasons: [String] = []
        var computations: [String] = []
        var historyIDs: [UUID] = []
        var historyFrom: [String] = []
        var historyTo: [String] = []
        var historyComposite: [Double] = []
        var historyReasons: [String] = []
        for id in ids {
            guard let input = inputs[id] else { continue }
            let result = grader.grade(input)
            results[id] = result
            rowIDs.append(id)
            grades.append(result.grade.rawValue)
            composites.append(result.composite)
            ethics.append(result.ethicsScore)
            skills.append(result.skillScore)
            levels.append(String(decoding: try Self.encoder.encode(result.skillLevelsByName), as: UTF8.self))
            reasons.append(String(decoding: try Self.encoder.encode(result.reasons), as: UTF8.self))
            computations.append(String(decoding: try Self.encoder.encode(result.computation.withoutEvidence), as: UTF8.self))
            if let change = GradeChange.between(previous: previous[id], current: result, cause: cause) {
                historyIDs.append(id)
                historyFrom.append(change.fromGrade?.rawValue ?? "")
                historyTo.append(change.toGrade.rawValue)
                historyComposite.append(result.composite)
                historyReasons.append(String(decoding: try Self.encoder.encode(change), as: UTF8.self))
            }
        }
        try await connection.query(
            """
            INSERT INTO grades (worker_id, grade, composite, ethics_score, skill_score, skill_levels, reasons, computation, policy_version, computed_at)
            SELECT w, g, c, e, s, l::jsonb, r::jsonb, x::jsonb, \(policy.version), now()
            FROM unnest(\(rowIDs)::uuid[], \(grades)::text[], \(composites)::float8[], \(ethics)::float8[], \(skills)::float8[],
                        \(levels)::text[], \(reasons)::text[], \(computations)::text[]) AS u(w, g, c, e, s, l, r, x)
            ON CONFLICT (worker_id) DO UPDATE SET grade = EXCLUDED.grade, composite = EXCLUDED.composite, ethics_score = EXCLUDED.ethics_score,
                skill_score = EXCLUDED.skill_score, skill_levels = EXCLUDED.skill_levels, reasons = EXCLUDED.reasons,
                computation = EXCLUDED.computation, policy_version = EXCLUDED.policy_version, computed_at = now()
            """,
            logger: logger
        )
        if !historyIDs.isEmpty {
            try await connection.query(
                """
                INSERT INTO grade_history (worker_id, from_grade, to_grade, composite, reasons, policy_version, cause)
                SELECT w, nullif(f, ''), t, c, r::jsonb, \(policy.version), \(cause)
                FROM unnest(\(historyIDs)::uuid[], \(historyFrom)::text[], \(historyTo)::text[], \(historyComposite)::float8[], \(historyReasons)::text[])
                    AS u(w, f, t, c, r)
                """,
                logger: logger
            )
        }
        return results
    }

    /// Takes up to `limit` queued workers (skipping those another node holds), regrades them and
    /// removes them from the queue, all in one transaction.
    @discardableResult
    public func drainQueue(limit: Int = 500, logger: Logger) async throws -> Int {
        try await database.transaction(logger: logger) { connection in
            var ids: [UUID] = []
            var causes: [String] = []
            for try await (id, cause) in try await connection.query(
                """
                SELECT worker_id, cause FROM grade_queue ORDER BY enqueued_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """,
                logger: logger
            ).decode((UUID, String).self) {
                ids.append(id)
                causes.append(cause)
            }
            guard !ids.isEmpty else { return 0 }
            try await regrade(ids, cause: Set(causes).count == 1 ? causes[0] : "inputs_changed", on: connection, logger: logger)
            try await connection.query("DELETE FROM grade_queue WHERE worker_id = ANY(\(ids))", logger: logger)
            return ids.count
        }
    }

    /// Recomputes every worker's grade in batches (after a policy change).
    public func regradeAll(batch: Int = 1000, logger: Logger, progress: @Sendable (Int, Int) -> Void) async throws -> Int {
        let total = try await database.withConnection { connection in
            var n = 0
            for try await c in try await connection.query("SELECT count(*)::int FROM workers", logger: logger).decode(Int.self) { n = c }
            return n
        }
        var after = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        var done = 0
        while true {
            let count: Int = try await database.transaction(logger: logger) { connection in
                var ids: [UUID] = []
                for try await id in try await connection.query(
                    """
                    SELECT id FROM workers WHERE id > \(after) ORDER BY id LIMIT \(batch)
                    """,
                    logger: logger
                ).decode(UUID.self) { ids.append(id) }
                guard let last = ids.last else { return 0 }
                try await regrade(ids, cause: "policy_\(policy.version)", on: connection, logger: logger)
                after = last
                return ids.count
            }
            guard count > 0 else { break }
            done += count
            progress(done, total)
        }
        return done
    }

    // MARK: Reading

    public struct Explained: Sendable, Encodable {
        public var grade: String
        public var composite: Double
        public var ethicsScore: Double
        public var skillScore: Double
        public var skillLevels: [String: Int]
        public var policyVersion: String
        public var computedAt: Date
        public var reasons: [GradeExplanation]
        public var history: [History]
    }

    public struct History: Sendable, Codable {
        public var fromGrade: String?
        public var toGrade: String
        public var composite: Double
        public var cause: String
        public var changedAt: Date
    }

    /// A worker's grade explained in plain words in her language, with its history.
    public func explained(_ workerID: UUID, language: String, logger: Logger) async throws -> Explained {
        try await database.withConnection { connection in
            var found: Explained?
            for try await (grade, composite, ethics, skill, levels, reasons, version, at) in try await connection.query(
                """
                SELECT grade, composite::float8, ethics_score::float8, skill_score::float8, skill_levels::text, reasons::text, policy_version, computed_at
                FROM grades WHERE worker_id = \(workerID)
                """,
                logger: logger
            ).decode((String, Double, Double, Double, String, String, String, Date).self) {
                let list = (try? JSONDecoder().decode([GradeReason].self, from: Data(reasons.utf8))) ?? []
                found = Explained(
                    grade: grade,
                    composite: composite,
                    ethicsScore: ethics,
                    skillScore: skill,
                    skillLevels: (try? JSONDecoder().decode([String: Int].self, from: Data(levels.utf8))) ?? [:],
                    policyVersion: version,
                    computedAt: at,
                    reasons: list.map { policy.explain($0, language: language) },
                    history: []
                )
            }
            guard var explained = found else {
                throw RegistryError(.notFound, code: "not_graded", message: "No grade has been computed yet.")
            }
            for try await (from, to, composite, cause, at) in try await connection.query(
                """
                SELECT from_grade, to_grade, composite::float8, cause, changed_at FROM grade_history WHERE worker_id = \(workerID) ORDER BY changed_at
                """,
                logger: logger
            ).decode((String?, String, Double, String, Date).self) {
                explained.history.append(History(fromGrade: from, toGrade: to, composite: composite, cause: cause, changedAt: at))
            }
            return explained
        }
    }

    /// The full computation, recomputed now with every piece of evidence (administrators).
    public func computation(_ workerID: UUID, logger: Logger) async throws -> GradeResult {
        try await database.withConnection { connection in
            let inputs = try await inputs([workerID], today: CivilDate.today(), on: connection, logger: logger)
            guard let input = inputs[workerID], try await WorkerStore.get(workerID, on: connection, logger: logger) != nil else {
                throw RegistryError.notFound("Worker")
            }
            return grader.grade(input)
        }
    }
}
