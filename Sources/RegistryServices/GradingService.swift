import Foundation
import Logging
import RegistryDomain
import RegistryStorage
import ServiceLifecycle

/// Computes workers' grades with the pure grader and keeps them current: every change to a
/// grade's inputs queues the worker (`grade_queue`, in the change's own transaction); the queue
/// is drained with `FOR UPDATE SKIP LOCKED` (safe on several nodes, never lost, never applied
/// twice); `regradeAll` recomputes everyone in set-based batches after a policy change.
public struct GradingService: Sendable {
    let database: Database
    let clock: RegistryClock
    public let policy: GradingPolicy
    let grader: Grader

    init(database: Database, clock: RegistryClock, policy: GradingPolicy) throws {
        self.database = database
        self.clock = clock
        self.policy = policy
        self.grader = try Grader(policy: policy)
    }

    static func day(_ text: String) -> CivilDate? { CivilDate(iso: String(text.prefix(10))) }

    /// The grader's inputs for a batch of workers, one query per table.
    func inputs(_ ids: [UUID], today: CivilDate, on connection: DatabaseConnection, logger: Logger) async throws -> [UUID: GradingInput] {
        var inputs = Dictionary(uniqueKeysWithValues: ids.map { ($0, GradingInput(today: today)) })
        for (w, category, level, on) in try await GradeStore.skillAssessments(workerIDs: ids, on: connection, logger: logger) {
            guard let c = ServiceCategory(rawValue: category), let d = Self.day(on) else { continue }
            inputs[w]?.assessments.append(.init(category: c, level: level, assessedOn: d))
        }
        for (w, kind, category, issued, expires) in try await GradeStore.trainings(workerIDs: ids, on: connection, logger: logger) {
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
        for (w, issued, until, result) in try await GradeStore.healthCertificates(workerIDs: ids, on: connection, logger: logger) {
            guard let i = Self.day(issued), let u = Self.day(until) else { continue }
            inputs[w]?.healthCertificates.append(.init(issuedOn: i, validUntil: u, result: HealthResult(rawValue: result) ?? .fit))
        }
        let decoder = JSONDecoder()
        for (w, on, category, skill, ethics) in try await GradeStore.reviews(workerIDs: ids, on: connection, logger: logger) {
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
        for (w, rating, on, sealed) in try await GradeStore.agencyRatings(workerIDs: ids, on: connection, logger: logger) {
            guard let d = Self.day(on) else { continue }
            inputs[w]?.agencyRatings.append(.init(rating: rating, ratedOn: d, sealed: sealed))
        }
        for (w, category, severity, status, occurred, expires) in try await GradeStore.flags(workerIDs: ids, on: connection, logger: logger) {
            guard let c = FlagCategory(rawValue: category), let s = FlagStatus(rawValue: status), let o = Self.day(occurred) else { continue }
            inputs[w]?.flags.append(.init(category: c, severity: severity, status: s, occurredOn: o, expiresOn: expires.flatMap(Self.day)))
        }
        for (w, barred, suspended) in try await GradeStore.standing(workerIDs: ids, on: connection, logger: logger) {
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
    public func regrade(_ ids: [UUID], cause: String, on connection: DatabaseConnection, logger: Logger) async throws -> [UUID: GradeResult] {
        guard !ids.isEmpty else { return [:] }
        let today = clock.today
        var previous: [UUID: GradeSnapshot] = [:]
        for (w, grade, composite, version) in try await GradeStore.lockGrades(workerIDs: ids, on: connection, logger: logger) {
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
        try await GradeStore.upsertGrades(
            workerIDs: rowIDs,
            grades: grades,
            composites: composites,
            ethics: ethics,
            skills: skills,
            levels: levels,
            reasons: reasons,
            computations: computations,
            policyVersion: policy.version,
            asOf: today.iso,
            on: connection,
            logger: logger
        )
        if !historyIDs.isEmpty {
            try await GradeStore.appendHistory(
                workerIDs: historyIDs,
                from: historyFrom,
                to: historyTo,
                composites: historyComposite,
                reasons: historyReasons,
                policyVersion: policy.version,
                cause: cause,
                on: connection,
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
            for (id, cause) in try await GradeStore.claimQueued(limit: limit, on: connection, logger: logger) {
                ids.append(id)
                causes.append(cause)
            }
            guard !ids.isEmpty else { return 0 }
            try await regrade(ids, cause: Set(causes).count == 1 ? causes[0] : "inputs_changed", on: connection, logger: logger)
            try await GradeStore.dequeue(ids, on: connection, logger: logger)
            return ids.count
        }
    }

    /// Recomputes every worker's grade in batches (after a policy change).
    public func regradeAll(batch: Int = 1000, logger: Logger, progress: @Sendable (Int, Int) -> Void) async throws -> Int {
        let total = try await database.withConnection { connection in
            try await GradeStore.workerCount(on: connection, logger: logger)
        }
        var after = UUID(uuidString: "00000000-0000-0000-0000-000000000000")!
        var done = 0
        while true {
            let count: Int = try await database.transaction(logger: logger) { connection in
                let ids = try await GradeStore.workerIDs(after: after, limit: batch, on: connection, logger: logger)
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
    public func explained(_ workerID: WorkerID, language: String, logger: Logger) async throws -> Explained {
        try await database.withConnection { connection in
            var found: Explained?
            if case let (grade, composite, ethics, skill, levels, reasons, version, at)? = try await GradeStore.grade(
                workerID.uuid,
                on: connection,
                logger: logger
            ) {
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
            for (from, to, composite, cause, at) in try await GradeStore.history(workerID.uuid, on: connection, logger: logger) {
                explained.history.append(History(fromGrade: from, toGrade: to, composite: composite, cause: cause, changedAt: at))
            }
            return explained
        }
    }

    /// The full computation, recomputed now with every piece of evidence (administrators).
    /// The full computation of her grade, for an administrator who states why: the read is an
    /// inquiry she sees in her "who looked" list, and an audit row.
    public func computation(_ workerID: WorkerID, purpose stated: String?, caller: Caller, logger: Logger) async throws -> GradeResult {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        let purpose = try AdminReadPurpose.parse(stated)
        return try await database.transaction(logger: logger) { connection in
            let inputs = try await inputs([workerID.uuid], today: clock.today, on: connection, logger: logger)
            guard let input = inputs[workerID.uuid], try await WorkerStore.get(workerID.uuid, on: connection, logger: logger) != nil else {
                throw RegistryError.notFound("Worker")
            }
            try await InquiryStore.record(
                workerID: workerID.uuid,
                viewer: caller.userUUID,
                role: caller.principal.role.rawValue,
                purpose: purpose.rawValue,
                consentID: nil,
                engagementID: nil,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event("grade.inspected", "worker", workerID.uuid, ["purpose": .string(purpose.rawValue)]),
                on: connection,
                logger: logger
            )
            return grader.grade(input)
        }
    }
}
