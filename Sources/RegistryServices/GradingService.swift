import Foundation
import Logging
import RegistryDomain
import RegistryStorage
import ServiceLifecycle
import Synchronization

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

    /// The grader's inputs for a batch of workers, in two queries: the records of each table
    /// (one statement for the batch) and the visible reviews with their scores as arrays.
    func inputs(_ ids: [UUID], today: CivilDate, on connection: DatabaseConnection, logger: Logger) async throws -> [UUID: GradingInput] {
        var inputs = Dictionary(uniqueKeysWithValues: ids.map { ($0, GradingInput(today: today)) })
        for (worker, record) in try await GradeStore.files(workerIDs: ids, on: connection, logger: logger) {
            Self.add(record, to: &inputs[worker])
        }
        for row in try await GradeStore.reviews(workerIDs: ids, on: connection, logger: logger) {
            inputs[row.workerID]?.reviews.append(
                .init(
                    reviewedOn: CivilDate(daysSinceEpoch: row.reviewedOn),
                    category: ServiceCategory(row.category),
                    skill: Self.scores(row.skillDimensions, row.skillScores),
                    ethics: Self.scores(row.ethicsDimensions, row.ethicsScores)
                )
            )
        }
        return inputs
    }

    /// Scores by dimension name (the first of a repeated name).
    static func scores(_ names: [String], _ values: [Int]) -> [String: Int] {
        var scores: [String: Int] = [:]
        scores.reserveCapacity(names.count)
        for (name, value) in zip(names, values) where scores[name] == nil { scores[name] = value }
        return scores
    }

    /// Adds one record to a worker's input. A category the policy does not know is kept (the
    /// grader gives it the default rule, and `PolicyDataCheck` reports it at start); a
    /// qualification kind or flag status outside the schema's CHECKs cannot occur.
    static func add(_ record: GradeStore.FileRecord, to input: inout GradingInput?) {
        guard input != nil else { return }
        func day(_ days: Int) -> CivilDate { CivilDate(daysSinceEpoch: days) }
        switch record {
        case .barred: input?.barred = true
        case .suspended: input?.suspended = true
        case .category(let name): input?.categories.append(ServiceCategory(name))
        case .assessment(let category, let level, let assessedOn):
            input?.assessments.append(.init(category: ServiceCategory(category), level: level, assessedOn: day(assessedOn)))
        case .qualification(let kind, let category, let issuedOn, let expiresOn):
            guard let k = QualificationKind(rawValue: kind) else { return }
            input?.qualifications.append(
                .init(kind: k, category: category.map { ServiceCategory($0) }, issuedOn: day(issuedOn), expiresOn: expiresOn.map(day))
            )
        case .health(let issuedOn, let validUntil, let result):
            input?.healthCertificates.append(
                .init(issuedOn: day(issuedOn), validUntil: day(validUntil), result: HealthResult(rawValue: result) ?? .fit)
            )
        case .rating(let rating, let ratedOn, let sealed):
            input?.agencyRatings.append(.init(rating: rating, ratedOn: day(ratedOn), sealed: sealed))
        case .flag(let category, let severity, let status, let occurredOn, let expiresOn):
            guard let s = FlagStatus(rawValue: status) else { return }
            input?.flags.append(
                .init(category: FlagCategory(category), severity: severity, status: s, occurredOn: day(occurredOn), expiresOn: expiresOn.map(day))
            )
        }
    }

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
            levels.append(result.skillLevelsJSON)
            reasons.append(result.reasonsJSON)
            computations.append(result.computationJSON)
            if let change = GradeChange.between(previous: previous[id], current: result, cause: cause) {
                historyIDs.append(id)
                historyFrom.append(change.fromGrade?.rawValue ?? "")
                historyTo.append(change.toGrade.rawValue)
                historyComposite.append(result.composite)
                historyReasons.append(change.json)
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

    /// Recomputes every worker's grade (after a policy change) in batches of `batch` workers,
    /// `connections` batches at a time (one per core by default), each batch in its own
    /// transaction on its own connection. `progress` is told the workers done and the total
    /// after each batch.
    public func regradeAll(
        batch: Int = 1000,
        connections: Int? = nil,
        logger: Logger,
        progress: @escaping @Sendable (Int, Int) -> Void
    ) async throws -> Int {
        let ids = try await database.withConnection { connection in
            try await GradeStore.allWorkerIDs(on: connection, logger: logger)
        }
        let size = max(1, batch)
        let batches = (ids.count + size - 1) / size
        let lanes = min(max(1, connections ?? ProcessInfo.processInfo.activeProcessorCount), max(1, batches))
        let cause = "policy_\(policy.version)"
        let counters = Counters()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<lanes {
                group.addTask {
                    while true {
                        let b = counters.next.withLock { n in
                            defer { n += 1 }
                            return n
                        }
                        guard b < batches else { return }
                        let slice = Array(ids[(b * size)..<min(ids.count, (b + 1) * size)])
                        try await database.transaction(logger: logger) { connection in
                            try await regrade(slice, cause: cause, on: connection, logger: logger)
                        }
                        let count = counters.done.withLock { n in
                            n += slice.count
                            return n
                        }
                        progress(count, ids.count)
                    }
                }
            }
            try await group.waitForAll()
        }
        return ids.count
    }

    /// The next batch to take and the workers done, shared by the lanes of `regradeAll`.
    private final class Counters: Sendable {
        let next = Mutex(0)
        let done = Mutex(0)
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
