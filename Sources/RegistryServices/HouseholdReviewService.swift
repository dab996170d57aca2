import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Workers review households (`Policies/households.yaml`): after an engagement ends she rates the
/// household and says what happened, perhaps reporting a serious problem; the household replies
/// once and may dispute; an administrator decides. Who sees what: administrators, the household
/// itself, the worker who wrote it, and an agency with a placement there — never the public.
/// Substantiated complaints flag the household to the next agency and worker.
public struct HouseholdReviewService: Sendable {
    let database: Database
    let clock: RegistryClock
    let policy: HouseholdPolicy

    public struct NewReview: Sendable, Decodable {
        public var respect: Int
        public var payOnTime: Int
        public var safety: Int
        public var agreedDuties: Int
        public var account: String?
        public var complaint: String?

        public init(respect: Int, payOnTime: Int, safety: Int, agreedDuties: Int, account: String? = nil, complaint: String? = nil) {
            self.respect = respect
            self.payOnTime = payOnTime
            self.safety = safety
            self.agreedDuties = agreedDuties
            self.account = account
            self.complaint = complaint
        }

        enum CodingKeys: String, CodingKey {
            case respect, safety, account, complaint
            case payOnTime = "pay_on_time"
            case agreedDuties = "agreed_duties"
        }
    }

    public struct Review: Sendable, Equatable, Encodable {
        public var id: UUID
        public var engagementId: UUID
        public var workerId: UUID
        public var workerName: String
        public var employerId: UUID
        public var householdName: String
        public var scores: [String: Int]
        public var account: String?
        public var complaint: String?
        /// open, substantiated or unsubstantiated (with a complaint).
        public var complaintStatus: String?
        public var createdAt: Date
        public var reply: String?
        public var disputeReason: String?
        public var hidden: Bool
        public var decision: String?
        public var decisionNote: String?
        public var decidedAt: Date?

        init(_ r: HouseholdReviewStore.Row) {
            id = r.id
            engagementId = r.engagementID
            workerId = r.workerID
            workerName = r.workerName
            employerId = r.employerID
            householdName = r.householdName
            scores = Dictionary(uniqueKeysWithValues: zip(HouseholdPolicy.dimensions, r.scores))
            account = r.account
            complaint = r.complaint
            complaintStatus = r.complaintStatus
            createdAt = r.createdAt
            reply = r.reply
            disputeReason = r.disputeReason
            hidden = r.hidden
            decision = r.decision
            decisionNote = r.decisionNote
            decidedAt = r.decidedAt
        }
    }

    /// A household's file as its reader may see it: the reviews (hidden ones for administrators
    /// only) and whether substantiated complaints flag it.
    public struct Household: Sendable, Equatable, Encodable {
        public var employerId: UUID
        public var substantiatedComplaints: Int
        public var flagged: Bool
        public var reviews: [Review]
    }

    // MARK: The worker

    /// She reviews the household of one of her engagements, once, after it ended and within the
    /// policy's days.
    public func write(engagement id: UUID, _ input: NewReview, caller: Caller, logger: Logger) async throws -> Review {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        let scores = [input.respect, input.payOnTime, input.safety, input.agreedDuties]
        for (name, score) in zip(HouseholdPolicy.dimensions, scores) where !(1...5).contains(score) {
            throw RegistryError.invalid(name, "'\(name)' is a score from 1 to 5.")
        }
        let account = try Input.text(input.account, field: "account", max: policy.textMaxLength, required: false)
        var complaint: String?
        if let c = input.complaint?.trimmingWhitespace(), !c.isEmpty {
            guard policy.complaints.contains(c) else {
                throw RegistryError.invalid("complaint", "A complaint is one of: \(policy.complaints.joined(separator: ", ")).")
            }
            guard account != nil else {
                throw RegistryError.invalid("account", "Say what happened: a serious complaint needs the account.", code: "missing_field")
            }
            complaint = c
        }
        return try await database.transaction(logger: logger) { connection in
            guard let e = try await EngagementStore.lock(id, on: connection, logger: logger), e.workerID == worker else {
                throw RegistryError.notFound("Engagement")
            }
            guard e.status == "ended", let ended = e.endsOn.flatMap(CivilDate.init(iso:)) else {
                throw RegistryError(.conflict, code: "not_ended", message: "A household can be reviewed once the engagement has ended.")
            }
            guard ended.adding(days: policy.reviewDaysAfterEnd) >= clock.today else {
                throw RegistryError(
                    .conflict,
                    code: "review_window_closed",
                    message: "A household can be reviewed for \(policy.reviewDaysAfterEnd) days after the engagement ended."
                )
            }
            guard
                let reviewID = try await HouseholdReviewStore.insert(
                    engagementID: id,
                    workerID: worker,
                    employerID: e.employerID,
                    agencyID: e.agencyID,
                    scores: scores,
                    account: account,
                    complaint: complaint,
                    on: connection,
                    logger: logger
                )
            else {
                throw RegistryError(.conflict, code: "already_reviewed", message: "You have already reviewed this household for this engagement.")
            }
            var details: [String: AuditValue] = ["engagement": .string(id.text)]
            if let complaint { details["complaint"] = .string(complaint) }
            try await AuditStore.append(
                caller.event("household_review.written", "household_review", reviewID, details),
                on: connection,
                logger: logger
            )
            return Review(try await HouseholdReviewStore.get(reviewID, lock: false, on: connection, logger: logger)!)
        }
    }

    /// The reviews she wrote.
    public func own(caller: Caller, logger: Logger) async throws -> [Review] {
        guard caller.principal.role == .worker, let worker = caller.workerUUID else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await HouseholdReviewStore.byWorker(worker, on: connection, logger: logger).map(Review.init)
        }
    }

    // MARK: Reading a household

    /// A household's reviews: administrators (hidden ones too), the household itself, and staff
    /// of an agency with a placement there (proposed or confirmed). Anyone else: 404.
    public func household(_ employerID: UUID, caller: Caller, logger: Logger) async throws -> Household {
        try await database.withConnection { connection in
            switch caller.principal.role {
            case .admin:
                break
            case .employer where caller.userUUID == employerID:
                break
            case .agencyStaff:
                let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
                guard try await HouseholdReviewStore.placing(agency: agency.id, employer: employerID, on: connection, logger: logger) else {
                    throw RegistryError.notFound("Household")
                }
            default:
                throw RegistryError.notFound("Household")
            }
            let rows = try await HouseholdReviewStore.forHousehold(employerID, on: connection, logger: logger)
            let count = try await HouseholdReviewStore.substantiated(employerID, on: connection, logger: logger)
            return Household(
                employerId: employerID,
                substantiatedComplaints: count,
                flagged: count >= policy.warnAfterSubstantiated,
                reviews: rows.filter { caller.principal.role == .admin || !$0.hidden }.map(Review.init)
            )
        }
    }

    // MARK: The household

    /// The household replies once to a review of it.
    public func reply(_ id: UUID, text: String, caller: Caller, logger: Logger) async throws -> Review {
        let text = try Input.text(text, field: "reply", max: policy.textMaxLength)!
        return try await ownReview(id, caller: caller, logger: logger) { row, connection in
            guard row.reply == nil else {
                throw RegistryError(.conflict, code: "already_replied", message: "You have already replied to this review.")
            }
            try await HouseholdReviewStore.reply(id, text: text, on: connection, logger: logger)
            try await AuditStore.append(caller.event("household_review.replied", "household_review", id), on: connection, logger: logger)
        }
    }

    /// The household disputes a review of it, once, before an administrator has decided it.
    public func dispute(_ id: UUID, reason: String, caller: Caller, logger: Logger) async throws -> Review {
        let reason = try Input.text(reason, field: "reason", max: policy.textMaxLength)!
        return try await ownReview(id, caller: caller, logger: logger) { row, connection in
            guard row.disputeReason == nil, row.decidedAt == nil else {
                throw RegistryError(.conflict, code: "already_disputed", message: "This review was already disputed or decided.")
            }
            try await HouseholdReviewStore.dispute(id, reason: reason, on: connection, logger: logger)
            try await AuditStore.append(caller.event("household_review.disputed", "household_review", id), on: connection, logger: logger)
        }
    }

    func ownReview(
        _ id: UUID,
        caller: Caller,
        logger: Logger,
        _ change: @Sendable (HouseholdReviewStore.Row, DatabaseConnection) async throws -> Void
    ) async throws -> Review {
        guard caller.principal.role == .employer, let user = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.transaction(logger: logger) { connection in
            guard let row = try await HouseholdReviewStore.get(id, lock: true, on: connection, logger: logger), row.employerID == user, !row.hidden
            else {
                throw RegistryError.notFound("Review")
            }
            try await change(row, connection)
            return Review(try await HouseholdReviewStore.get(id, lock: false, on: connection, logger: logger)!)
        }
    }

    // MARK: Administrators

    /// Reviews with a complaint or a dispute waiting for a decision, oldest first.
    public func queue(caller: Caller, logger: Logger) async throws -> [Review] {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            try await HouseholdReviewStore.open(on: connection, logger: logger).map(Review.init)
        }
    }

    /// Decides a review waiting in the queue, with a note: `substantiate` or `dismiss` its
    /// complaint (the review stays), `hide` it (the household's dispute upheld; its complaint
    /// falls), or `keep` it (a dispute rejected).
    public func decide(_ id: UUID, decision: String, note: String, caller: Caller, logger: Logger) async throws -> Review {
        guard caller.principal.role == .admin, let admin = caller.userUUID else { throw RegistryError.forbidden }
        guard ["substantiate", "dismiss", "hide", "keep"].contains(decision) else {
            throw RegistryError.invalid("decision", "The decision is substantiate, dismiss, hide or keep.")
        }
        let note = try Input.text(note, field: "note", max: 2000)!
        return try await database.transaction(logger: logger) { connection in
            guard let row = try await HouseholdReviewStore.get(id, lock: true, on: connection, logger: logger) else {
                throw RegistryError.notFound("Review")
            }
            guard row.decidedAt == nil, row.complaintStatus == "open" || row.disputeReason != nil else {
                throw RegistryError(.conflict, code: "nothing_to_decide", message: "This review has no open complaint or dispute.")
            }
            if (decision == "substantiate" || decision == "dismiss") && row.complaint == nil {
                throw RegistryError.invalid("decision", "This review reports no serious problem: hide it or keep it.")
            }
            let status: String? =
                switch decision {
                case "substantiate": "substantiated"
                case "dismiss", "hide": row.complaint == nil ? nil : "unsubstantiated"
                default: nil
                }
            try await HouseholdReviewStore.decide(
                id,
                decision: decision,
                complaintStatus: status,
                hidden: decision == "hide",
                note: note,
                by: admin,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "household_review.\(decision)",
                    "household_review",
                    id,
                    ["note": .string(note), "household": .string(row.employerID.text)]
                ),
                on: connection,
                logger: logger
            )
            return Review(try await HouseholdReviewStore.get(id, lock: false, on: connection, logger: logger)!)
        }
    }

    // MARK: Placements

    /// Called when an agency proposes a placement: a household with enough substantiated
    /// complaints flags it, and the worker must see the warning and accept before it is confirmed.
    static func flagIfWarned(
        engagement: UUID,
        employer: UUID,
        policy: HouseholdPolicy,
        on connection: DatabaseConnection,
        logger: Logger
    ) async throws -> Bool {
        let count = try await HouseholdReviewStore.substantiated(employer, on: connection, logger: logger)
        guard count >= policy.warnAfterSubstantiated else { return false }
        try await EngagementStore.flagWarning(engagement, on: connection, logger: logger)
        return true
    }
}
