import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// Placements and the verified reviews that only they make possible.
public struct EngagementService: Sendable {
    let database: Database
    let clock: RegistryClock
    let policy: ReportPolicy
    let sectors: SectorPolicy
    let demerits: DemeritPolicy
    let households: HouseholdPolicy

    /// A placement as its parties see it.
    public struct Engagement: Sendable, Equatable, Encodable {
        public var id: UUID
        public var workerID: UUID
        public var workerName: String
        public var agencyID: UUID
        public var employerID: UUID
        public var employerName: String
        public var category: String
        public var startsOn: String
        public var endsOn: String?
        public var status: String
        public var reviewID: UUID?
        /// The household's substantiated complaints flagged this placement: the worker must see
        /// the warning and accept it before the household can confirm.
        public var householdWarning: Bool
        public var workerAccepted: Bool
        /// The worker's review of the household, once written.
        public var householdReviewID: UUID?
        /// How the household confirmed it (`verified_phone`, `before_phone_verification`).
        public var confirmedVia: String?

        init(_ row: EngagementStore.Engagement) {
            id = row.id
            workerID = row.workerID
            workerName = row.workerName
            agencyID = row.agencyID
            employerID = row.employerID
            employerName = row.employerName
            category = row.category
            startsOn = row.startsOn
            endsOn = row.endsOn
            status = row.status
            reviewID = row.reviewID
            householdWarning = row.householdWarning
            workerAccepted = row.workerAccepted
            householdReviewID = row.householdReviewID
            confirmedVia = row.confirmedVia
        }
    }

    /// A verified review, with her reply.
    public struct Review: Sendable, Equatable, Encodable {
        public var id: UUID
        public var engagementID: UUID
        public var workerID: UUID
        public var employerID: UUID
        public var employerName: String
        public var skillScores: [String: Int]
        public var ethicsScores: [String: Int]
        public var comment: String?
        public var createdAt: Date
        public var editedAt: Date?
        public var hiddenAt: Date?
        public var hiddenReason: String?
        public var reply: String?
        public var replyAt: Date?

        init(_ row: ReviewStore.Review) {
            id = row.id
            engagementID = row.engagementID
            workerID = row.workerID
            employerID = row.employerID
            employerName = row.employerName
            skillScores = row.skillScores
            ethicsScores = row.ethicsScores
            comment = row.comment
            createdAt = row.createdAt
            editedAt = row.editedAt
            hiddenAt = row.hiddenAt
            hiddenReason = row.hiddenReason
            reply = row.reply
            replyAt = row.replyAt
        }
    }

    /// A worker's dispute of a review, as administrators see it.
    public struct Dispute: Sendable, Equatable, Encodable {
        public var id: UUID
        public var reviewID: UUID
        public var workerID: UUID
        public var reason: String
        public var status: String
        public var createdAt: Date

        init(_ row: ReviewStore.Dispute) {
            id = row.id
            reviewID = row.reviewID
            workerID = row.workerID
            reason = row.reason
            status = row.status
            createdAt = row.createdAt
        }
    }

    /// A dispute as the worker who raised it sees it.
    public struct OwnDispute: Sendable, Equatable, Encodable {
        public var id: UUID
        public var reviewID: UUID
        public var status: String
        public var createdAt: Date
        public var decisionNote: String?

        init(_ row: ReviewStore.OwnDispute) {
            id = row.id
            reviewID = row.reviewID
            status = row.status
            createdAt = row.createdAt
            decisionNote = row.decisionNote
        }
    }

    public struct Placement: Sendable, Decodable {
        public var workerId: UUID
        public var employerEmail: String?
        public var employerPhone: String?
        public var category: String
        public var startsOn: String

        public init(workerId: UUID, employerEmail: String?, employerPhone: String?, category: String, startsOn: String) {
            self.workerId = workerId
            self.employerEmail = employerEmail
            self.employerPhone = employerPhone
            self.category = category
            self.startsOn = startsOn
        }

        enum CodingKeys: String, CodingKey {
            case category
            case workerId = "worker_id"
            case employerEmail = "employer_email"
            case employerPhone = "employer_phone"
            case startsOn = "starts_on"
        }
    }

    /// The agency in custody records a placement with a registered employer.
    public func place(_ p: Placement, caller: Caller, logger: Logger) async throws -> UUID {
        let category = try sectors.parseCategory(p.category)
        let starts = try Input.date(p.startsOn, field: "starts_on")!
        guard starts <= clock.today.adding(days: 365) else { throw RegistryError.invalid("starts_on", "starts_on is too far ahead.") }
        let identifier = try AuthService.Identifier.from(email: p.employerEmail, phone: p.employerPhone)
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        do {
            return try await database.transaction(logger: logger) { connection in
                let (worker, agency) = try await WorkerAccess.visible(p.workerId, caller: caller, write: true, on: connection, logger: logger)
                guard let agency else { throw RegistryError.notFound("Worker") }
                guard worker.status == "active" else {
                    throw RegistryError(.conflict, code: "not_active", message: "A suspended or barred worker cannot be placed.")
                }
                guard
                    let employer = try await AccountStore.find(
                        email: identifier.emailValue,
                        phone: identifier.phoneValue,
                        on: connection,
                        logger: logger
                    ),
                    employer.role == .employer, employer.status == "active"
                else {
                    throw RegistryError(
                        .notFound,
                        code: "no_employer",
                        message: "No employer account with this e-mail or phone: she registers first.",
                        field: p.employerEmail != nil ? "employer_email" : "employer_phone"
                    )
                }
                let id = try await EngagementStore.create(
                    workerID: worker.id,
                    agencyID: agency.id,
                    employerID: employer.id,
                    category: category.rawValue,
                    startsOn: starts.iso,
                    by: user,
                    on: connection,
                    logger: logger
                )
                try await AuditStore.append(
                    caller.event(
                        "engagement.proposed",
                        "engagement",
                        id,
                        [
                            "worker": .string(worker.id.text), "employer": .string(employer.id.text), "category": .string(category.rawValue),
                        ]
                    ),
                    on: connection,
                    logger: logger
                )
                // Substantiated complaints about the household: the worker is warned and must accept first.
                if try await HouseholdReviewService.flagIfWarned(
                    engagement: id,
                    employer: employer.id,
                    policy: households,
                    on: connection,
                    logger: logger
                ) {
                    try await AuditStore.append(
                        caller.event("engagement.household_warning", "engagement", id, ["worker": .string(worker.id.text)]),
                        on: connection,
                        logger: logger
                    )
                    try await WorkerTexts.send(
                        "household_warning",
                        to: worker.id,
                        ["agency": agency.name],
                        key: "household-warning-\(id.text)",
                        on: connection,
                        logger: logger
                    )
                }
                return id
            }
        } catch let error as RegistryError where error.code == "not_active" {
            // Attempting to place a suspended or barred worker is itself an offence the agency
            // may answer (demerits.yaml); recorded apart, since the refused placement writes nothing.
            try await database.transaction(logger: logger) { connection in
                let (worker, agency) = try await WorkerAccess.visible(p.workerId, caller: caller, write: false, on: connection, logger: logger)
                guard let agency else { return }
                let today = clock.today.iso
                try await DemeritService.recordBySystem(
                    "suspended_worker_placement",
                    agencyID: agency.id,
                    workerID: worker.id,
                    evidence: "A placement of the worker, whose status is \(worker.status), was attempted on \(today) by staff member \(user.text).",
                    eventKey: "suspended-placement-\(worker.id.text)-\(agency.id.text)-\(today)",
                    policy: demerits,
                    on: connection,
                    logger: logger
                )
            }
            throw error
        }
    }

    static let phoneNotVerified = RegistryError(
        .forbidden,
        code: "phone_not_verified",
        message: "Verify your phone number first (a code is sent to it): a placement is confirmed only by a household with a verified number."
    )

    /// confirm (employer, from an account with a verified phone), cancel (agency, while
    /// proposed), end (either, once confirmed).
    public func transition(_ id: UUID, _ event: String, caller: Caller, logger: Logger) async throws -> Engagement {
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.transaction(logger: logger) { connection in
            guard let e = try await EngagementStore.lock(id, on: connection, logger: logger) else { throw RegistryError.notFound("Engagement") }
            let isEmployer = caller.principal.role == .employer && e.employerID == user
            var isAgency = false
            if caller.principal.role == .agencyStaff {
                let agency = try await AgencyAccess.agency(nil, caller: caller, write: true, on: connection, logger: logger)
                isAgency = agency.id == e.agencyID
            }
            guard isEmployer || isAgency else { throw RegistryError.notFound("Engagement") }
            let from = EngagementStatus(rawValue: e.status) ?? .cancelled
            let to = try EngagementStatus.next(from, event)
            switch event {
            case "confirm" where !isEmployer:
                throw RegistryError(.forbidden, code: "not_a_party", message: "Only the employer confirms the engagement.")
            case "cancel" where !isAgency:
                throw RegistryError(.forbidden, code: "not_a_party", message: "Only the agency cancels a proposed engagement.")
            case "confirm":
                // Households are real: only from an account whose phone proved itself by a code.
                guard try await ContactStore.phoneVerifiedAt(userID: user, on: connection, logger: logger) != nil else {
                    throw Self.phoneNotVerified
                }
                guard !e.householdWarning || e.workerAccepted else {
                    throw RegistryError(
                        .conflict,
                        code: "worker_acceptance_required",
                        message: "The worker has been warned about this household and has not yet accepted the placement."
                    )
                }
            default: break
            }
            try await EngagementStore.setStatus(id, to, by: user, endsOn: to == .ended ? clock.today.iso : nil, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("engagement.\(to.rawValue)", "engagement", id, ["worker": .string(e.workerID.text)]),
                on: connection,
                logger: logger
            )
            guard let updated = try await EngagementStore.lock(id, on: connection, logger: logger) else { throw RegistryError.notFound("Engagement") }
            return Engagement(updated)
        }
    }

    /// The worker answers a placement flagged by the household's substantiated complaints, having
    /// seen the warning: she accepts it (the household may then confirm) or declines (cancelled).
    public func answerWarning(_ id: UUID, accept: Bool, caller: Caller, logger: Logger) async throws -> Engagement {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.transaction(logger: logger) { connection in
            guard let e = try await EngagementStore.lock(id, on: connection, logger: logger), e.workerID == worker else {
                throw RegistryError.notFound("Engagement")
            }
            guard e.status == "proposed", e.householdWarning, !e.workerAccepted else {
                throw RegistryError(.conflict, code: "nothing_to_answer", message: "This placement is not waiting for your answer.")
            }
            if accept {
                try await EngagementStore.acceptWarning(id, on: connection, logger: logger)
            } else {
                try await EngagementStore.setStatus(id, .cancelled, by: user, endsOn: nil, on: connection, logger: logger)
            }
            try await AuditStore.append(
                caller.event(accept ? "engagement.worker_accepted" : "engagement.worker_declined", "engagement", id),
                on: connection,
                logger: logger
            )
            return Engagement(try await EngagementStore.lock(id, on: connection, logger: logger)!)
        }
    }

    public func list(caller: Caller, logger: Logger) async throws -> [Engagement] {
        try await listRows(caller: caller, logger: logger).map(Engagement.init)
    }

    func listRows(caller: Caller, logger: Logger) async throws -> [EngagementStore.Engagement] {
        try await database.withConnection { connection in
            switch caller.principal.role {
            case .employer:
                guard let user = caller.userUUID else { throw RegistryError.forbidden }
                return try await EngagementStore.forEmployer(user, on: connection, logger: logger)
            case .agencyStaff:
                let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
                return try await EngagementStore.forAgency(agency.id, on: connection, logger: logger)
            case .worker:
                guard let worker = caller.workerUUID else { throw RegistryError.forbidden }
                return try await EngagementStore.forWorker(worker, on: connection, logger: logger)
            default:
                throw RegistryError.forbidden
            }
        }
    }

    // MARK: Reviews

    public struct ReviewInput: Sendable, Decodable {
        public var skillScores: [String: Int]
        public var ethicsScores: [String: Int]
        public var comment: String?

        public init(skillScores: [String: Int], ethicsScores: [String: Int], comment: String?) {
            self.skillScores = skillScores
            self.ethicsScores = ethicsScores
            self.comment = comment
        }

        enum CodingKeys: String, CodingKey {
            case comment
            case skillScores = "skill_scores"
            case ethicsScores = "ethics_scores"
        }
    }

    /// The engagement's employer reviews it once, after it started; only confirmed engagements count.
    public func review(engagement id: UUID, _ input: ReviewInput, caller: Caller, logger: Logger) async throws -> UUID {
        let content = try ReviewContent(skill: input.skillScores, ethics: input.ethicsScores, comment: input.comment, policy: policy)
        guard caller.principal.role == .employer, let user = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.transaction(logger: logger) { connection in
            guard let e = try await EngagementStore.lock(id, on: connection, logger: logger), e.employerID == user else {
                throw RegistryError.notFound("Engagement")
            }
            guard e.status == "confirmed" || e.status == "ended" else {
                throw RegistryError(.conflict, code: "not_confirmed", message: "Only a confirmed engagement can be reviewed.")
            }
            guard let starts = CivilDate(iso: e.startsOn), starts <= clock.today else {
                throw RegistryError(.conflict, code: "not_started", message: "The engagement has not started yet.")
            }
            try content.checkSkill(within: skillDimensions(category: e.category))
            let reviewID = try await ReviewStore.create(
                engagementID: id,
                workerID: e.workerID,
                employerID: user,
                content: content,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "review.created",
                    "review",
                    reviewID,
                    [
                        "worker": .string(e.workerID.text), "engagement": .string(id.text),
                        "skill": .object(content.skill.mapValues { .int($0) }), "ethics": .object(content.ethics.mapValues { .int($0) }),
                    ]
                ),
                on: connection,
                logger: logger
            )
            try await WorkerTexts.send(
                "review_received",
                to: e.workerID,
                [:],
                key: "review-received-\(reviewID.uuidString.lowercased())",
                on: connection,
                logger: logger
            )
            try await GradeStore.enqueue(e.workerID, reason: "review", on: connection, logger: logger)
            return reviewID
        }
    }

    /// The skill dimensions a review of work in `category` scores: its sector's.
    public func skillDimensions(category: String) -> [String] {
        sectors.reviewSkillDimensions(category: category, all: policy.reviewDimensions.skill)
    }

    /// Its author edits a review within the policy window; both versions go to the audit log.
    public func editReview(_ id: UUID, _ input: ReviewInput, caller: Caller, logger: Logger) async throws {
        let content = try ReviewContent(skill: input.skillScores, ethics: input.ethicsScores, comment: input.comment, policy: policy)
        guard caller.principal.role == .employer, let user = caller.userUUID else { throw RegistryError.forbidden }
        try await database.transaction(logger: logger) { connection in
            guard let r = try await ReviewStore.lock(id, on: connection, logger: logger), r.employerID == user else {
                throw RegistryError.notFound("Review")
            }
            guard clock.now.timeIntervalSince(r.createdAt) <= Double(policy.reviewEditHours) * 3600, r.hiddenAt == nil else {
                throw RegistryError(
                    .conflict,
                    code: "review_frozen",
                    message: "Reviews can be edited for \(policy.reviewEditHours) hours; this one is frozen."
                )
            }
            if let category = try await ReviewStore.category(id, on: connection, logger: logger) {
                try content.checkSkill(within: skillDimensions(category: category))
            }
            try await ReviewStore.update(id, content: content, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event(
                    "review.edited",
                    "review",
                    id,
                    [
                        "before": .object([
                            "skill": .object(r.skillScores.mapValues { .int($0) }), "ethics": .object(r.ethicsScores.mapValues { .int($0) }),
                            "comment": AuditValue(r.comment),
                        ]),
                        "after": .object([
                            "skill": .object(content.skill.mapValues { .int($0) }), "ethics": .object(content.ethics.mapValues { .int($0) }),
                            "comment": AuditValue(content.comment),
                        ]),
                    ]
                ),
                on: connection,
                logger: logger
            )
            try await GradeStore.enqueue(r.workerID, reason: "review", on: connection, logger: logger)
        }
    }

    /// The worker replies to a review about her, once.
    public func reply(_ reviewID: UUID, body: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        let text = try Input.text(body, field: "body", max: policy.replyMaxLength)!
        try await database.transaction(logger: logger) { connection in
            guard let r = try await ReviewStore.lock(reviewID, on: connection, logger: logger), r.workerID == worker else {
                throw RegistryError.notFound("Review")
            }
            try await ReviewStore.reply(reviewID, workerID: worker, body: text, on: connection, logger: logger)
            try await AuditStore.append(caller.event("review.replied", "review", reviewID), on: connection, logger: logger)
        }
    }

    /// The worker disputes a review; an administrator decides.
    public func dispute(_ reviewID: UUID, reason: String, caller: Caller, logger: Logger) async throws -> UUID {
        guard caller.principal.role == .worker, let worker = caller.workerUUID, let user = caller.userUUID else { throw RegistryError.forbidden }
        let text = try Input.text(reason, field: "reason", max: 2000)!
        return try await database.transaction(logger: logger) { connection in
            guard let r = try await ReviewStore.lock(reviewID, on: connection, logger: logger), r.workerID == worker else {
                throw RegistryError.notFound("Review")
            }
            let id = try await ReviewStore.dispute(reviewID, by: user, reason: text, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("review.disputed", "review", reviewID, ["dispute": .string(id.text)]),
                on: connection,
                logger: logger
            )
            return id
        }
    }

    /// The worker's own disputes of reviews about her, newest first (their state and answer).
    public func ownDisputes(caller: Caller, logger: Logger) async throws -> [OwnDispute] {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await ReviewStore.disputes(workerID: worker, on: connection, logger: logger).map(OwnDispute.init)
        }
    }

    /// Every review about a worker, hidden ones included: for the worker herself and for administrators.
    public func reviews(about workerID: WorkerID, caller: Caller, logger: Logger) async throws -> [Review] {
        guard caller.principal.role == .admin || (caller.principal.role == .worker && caller.principal.workerID == workerID) else {
            throw RegistryError.forbidden
        }
        return try await database.withConnection { connection in
            try await ReviewStore.forWorker(workerID.uuid, includeHidden: true, on: connection, logger: logger).map(Review.init)
        }
    }

    public func openDisputes(logger: Logger) async throws -> [Dispute] {
        try await database.withConnection { connection in try await ReviewStore.openDisputes(on: connection, logger: logger).map(Dispute.init) }
    }

    /// An administrator decides a dispute: upheld hides the review with the recorded reason
    /// (it is never deleted or edited); rejected leaves it shown.
    public func decideDispute(_ id: UUID, uphold: Bool, note: String, caller: Caller, logger: Logger) async throws {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        let note = try Input.text(note, field: "note", max: 2000)!
        try await database.transaction(logger: logger) { connection in
            guard let d = try await ReviewStore.lockDispute(id, on: connection, logger: logger) else { throw RegistryError.notFound("Dispute") }
            guard d.status == "open" else {
                throw RegistryError(.conflict, code: "dispute_decided", message: "This dispute was already decided.")
            }
            try await ReviewStore.decideDispute(id, upheld: uphold, by: admin, note: note, on: connection, logger: logger)
            if uphold {
                try await ReviewStore.hide(d.reviewID, by: admin, reason: note, on: connection, logger: logger)
                try await GradeStore.enqueue(d.workerID, reason: "review_hidden", on: connection, logger: logger)
            }
            try await AuditStore.append(
                caller.event(
                    uphold ? "review.hidden" : "review.dispute_rejected",
                    "review",
                    d.reviewID,
                    ["dispute": .string(id.text), "note": .string(note)]
                ),
                on: connection,
                logger: logger
            )
            try await WorkerTexts.send(
                uphold ? "review_dispute_upheld" : "review_dispute_rejected",
                to: d.workerID,
                [:],
                key: "review-dispute-answered-\(id.uuidString.lowercased())",
                on: connection,
                logger: logger
            )
        }
    }
}
