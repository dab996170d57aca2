/// The revocation case workflow, as a pure state machine. A ban ends a livelihood: no state can
/// be skipped, every step names who may take it, and the fairness rules are checked here.
///
///     submitted → under_review ⇄ awaiting_information
///     under_review → decision_proposed → (return) under_review
///     decision_proposed → decided (another administrator confirms)
///     decided(upheld) → notice_period → final → executed
///     decided(rejected) → closed
///     notice_period → objection_review → final (objection rejected) | closed (objection upheld)
///     submitted, under_review, awaiting_information, decision_proposed → withdrawn (the requester)
public enum CaseState: String, Sendable, Codable, CaseIterable {
    case submitted
    case underReview = "under_review"
    case awaitingInformation = "awaiting_information"
    case decisionProposed = "decision_proposed"
    case decided
    case noticePeriod = "notice_period"
    case objectionReview = "objection_review"
    case final
    case executed
    case withdrawn
    case closed

    public var isOpen: Bool { ![.executed, .withdrawn, .closed].contains(self) }
}

public enum CaseOutcome: String, Sendable, Codable, CaseIterable {
    case upheld, rejected
}

public enum CaseCommand: String, Sendable, Codable, CaseIterable {
    case startReview = "start_review"
    case requestInformation = "request_information"
    case provideInformation = "provide_information"
    case proposeDecision = "propose_decision"
    case returnForReview = "return_for_review"
    case confirmDecision = "confirm_decision"
    case startNotice = "start_notice"
    case close
    case object
    case upholdObjection = "uphold_objection"
    case rejectObjection = "reject_objection"
    case finalize
    case execute
    case withdraw

    /// Who may issue it.
    public enum Actor: String, Sendable { case administrator, requester, worker, system }

    public var actors: Set<Actor> {
        switch self {
        case .startReview, .requestInformation, .proposeDecision, .returnForReview, .confirmDecision, .upholdObjection, .rejectObjection:
            [.administrator]
        case .provideInformation: [.requester, .administrator]
        case .object: [.worker]
        case .withdraw: [.requester]
        case .startNotice, .close, .finalize, .execute: [.system]
        }
    }
}

/// What the machine knows about a case when deciding a transition.
public struct CaseFacts: Sendable, Equatable {
    public var state: CaseState
    public var proposedOutcome: CaseOutcome?
    public var outcome: CaseOutcome?
    public var requesterID: UserID?
    public var proposedBy: UserID?
    public var decidedBy: UserID?
    /// Agencies that held the worker — their staff may not adjudicate.
    public var workerAgencies: Set<AgencyID>

    public init(
        state: CaseState,
        proposedOutcome: CaseOutcome? = nil,
        outcome: CaseOutcome? = nil,
        requesterID: UserID? = nil,
        proposedBy: UserID? = nil,
        decidedBy: UserID? = nil,
        workerAgencies: Set<AgencyID> = []
    ) {
        self.state = state
        self.proposedOutcome = proposedOutcome
        self.outcome = outcome
        self.requesterID = requesterID
        self.proposedBy = proposedBy
        self.decidedBy = decidedBy
        self.workerAgencies = workerAgencies
    }
}

public struct CaseActor: Sendable, Equatable {
    public var kind: CaseCommand.Actor
    public var userID: UserID?
    public var agencyID: AgencyID?

    public init(kind: CaseCommand.Actor, userID: UserID?, agencyID: AgencyID? = nil) {
        self.kind = kind
        self.userID = userID
        self.agencyID = agencyID
    }
}

public enum CaseMachine {
    /// The table of legal moves: (state, command) → next state.
    public static func next(_ state: CaseState, _ command: CaseCommand, facts: CaseFacts) -> CaseState? {
        switch (state, command) {
        case (.submitted, .startReview): .underReview
        case (.underReview, .requestInformation): .awaitingInformation
        case (.awaitingInformation, .provideInformation): .underReview
        case (.underReview, .proposeDecision): .decisionProposed
        case (.decisionProposed, .returnForReview): .underReview
        case (.decisionProposed, .confirmDecision): .decided
        case (.decided, .startNotice) where facts.outcome == .upheld: .noticePeriod
        case (.decided, .close) where facts.outcome == .rejected: .closed
        case (.noticePeriod, .object): .objectionReview
        case (.noticePeriod, .finalize): .final
        case (.objectionReview, .upholdObjection): .closed
        case (.objectionReview, .rejectObjection): .final
        case (.final, .execute): .executed
        case (.submitted, .withdraw), (.underReview, .withdraw), (.awaitingInformation, .withdraw), (.decisionProposed, .withdraw): .withdrawn
        default: nil
        }
    }

    public static func allowed(_ facts: CaseFacts) -> [CaseCommand] {
        CaseCommand.allCases.filter { next(facts.state, $0, facts: facts) != nil }
    }

    /// The next state, or a 409 naming the allowed commands, or a 403 for a fairness rule.
    public static func apply(_ command: CaseCommand, facts: CaseFacts, by actor: CaseActor) throws(RegistryError) -> CaseState {
        guard let to = next(facts.state, command, facts: facts) else {
            let allowed = allowed(facts).map(\.rawValue)
            throw RegistryError(
                .conflict,
                code: "illegal_transition",
                message: "A case in '\(facts.state.rawValue)' cannot take '\(command.rawValue)'."
                    + (allowed.isEmpty ? " It is closed." : " Allowed: \(allowed.joined(separator: ", "))."),
                details: ["state": facts.state.rawValue, "allowed": allowed.joined(separator: ",")]
            )
        }
        guard command.actors.contains(actor.kind) else {
            throw RegistryError(
                .forbidden,
                code: "not_your_step",
                message: "'\(command.rawValue)' is taken by: \(command.actors.map(\.rawValue).sorted().joined(separator: ", "))."
            )
        }
        if actor.kind == .administrator {
            // No adjudicator may be the requester or staff of an agency that held the worker.
            if let user = actor.userID, user == facts.requesterID {
                throw RegistryError(.forbidden, code: "conflict_of_interest", message: "You filed this case: another administrator must handle it.")
            }
            if let agency = actor.agencyID, facts.workerAgencies.contains(agency) {
                throw RegistryError(.forbidden, code: "conflict_of_interest", message: "Staff of the worker's agencies cannot adjudicate her case.")
            }
            // Four eyes: the confirming administrator is not the proposer.
            if command == .confirmDecision, actor.userID != nil, actor.userID == facts.proposedBy {
                throw RegistryError(.forbidden, code: "four_eyes", message: "Another administrator must confirm the decision you proposed.")
            }
            // An objection is reviewed by an administrator who took no part in the decision.
            if command == .upholdObjection || command == .rejectObjection,
                let user = actor.userID, user == facts.proposedBy || user == facts.decidedBy
            {
                throw RegistryError(
                    .forbidden,
                    code: "took_part",
                    message: "An administrator who took no part in the decision must review the objection."
                )
            }
        }
        return to
    }
}

/// Working days: weekends and the policy's holidays are not counted.
public enum WorkingDays {
    public static func isWorkingDay(_ day: CivilDate, holidays: Set<CivilDate>, workdays: Set<CivilDate> = []) -> Bool {
        if workdays.contains(day) { return true }  // official make-up working days (调休)
        return day.weekday <= 5 && !holidays.contains(day)
    }

    /// The `n`th working day after `start` (start itself not counted).
    public static func add(_ n: Int, to start: CivilDate, holidays: Set<CivilDate>, workdays: Set<CivilDate> = []) -> CivilDate {
        var day = start
        var left = n
        while left > 0 {
            day = day.adding(days: 1)
            if isWorkingDay(day, holidays: holidays, workdays: workdays) { left -= 1 }
        }
        return day
    }
}

/// Revocation rules (`Policies/revocation.yaml`).
public struct RevocationPolicy: Sendable, Equatable, Codable {
    public struct Ground: Sendable, Equatable, Codable {
        public var zh: String
        public var en: String
    }

    public var version: Int
    public var grounds: [String: Ground]
    public var objectionWorkingDays: Int
    /// The working-day calendar: filled from `Policies/calendar/YYYY.yaml` at load.
    public var holidays: [String]?
    public var workdays: [String]?
    /// The calendar's last year and its provisional years (set at load, not in the file).
    public var calendarLastYear: Int? = nil
    public var provisionalYears: [Int] = []
    public var evidenceMaxBytes: Int
    public var evidenceTypes: [String]
    public var evidencePerCase: Int

    enum CodingKeys: String, CodingKey {
        case version, grounds, holidays, workdays
        case objectionWorkingDays = "objection_working_days"
        case evidenceMaxBytes = "evidence_max_bytes"
        case evidenceTypes = "evidence_types"
        case evidencePerCase = "evidence_per_case"
    }

    public var holidayDates: Set<CivilDate> { Set((holidays ?? []).compactMap(CivilDate.init(iso:))) }
    public var workdayDates: Set<CivilDate> { Set((workdays ?? []).compactMap(CivilDate.init(iso:))) }

    /// The last day the working-day calendar covers: 31 December of its last year (nil when it
    /// has none). Past it, no deadline is computed.
    public var calendarEnd: CivilDate? {
        (calendarLastYear ?? holidayDates.map(\.year).max()).flatMap { CivilDate(year: $0, month: 12, day: 31) }
    }

    /// The last day to object to a decision announced on `start`: `objection_working_days`
    /// working days later. Refused, rather than guessed, when that day lies past the calendar.
    public func lastObjectionDay(from start: CivilDate) throws(RegistryError) -> CivilDate {
        let last = WorkingDays.add(objectionWorkingDays, to: start, holidays: holidayDates, workdays: workdayDates)
        guard let end = calendarEnd, last <= end else {
            throw RegistryError(
                .unavailable,
                code: "calendar_ended",
                message: "The working-day calendar ends on \(calendarEnd?.iso ?? "(none)"), so the objection deadline cannot be counted. "
                    + "An administrator must add next year's public holidays and make-up working days to Policies/calendar/.",
                details: ["calendar_ends": calendarEnd?.iso ?? ""]
            )
        }
        return last
    }

    public func validate() throws(PolicyError) {
        guard !grounds.isEmpty else { throw PolicyError(path: ["grounds"], message: "name at least one ground") }
        for name in grounds.keys.sorted()
        where !(name.count >= 2 && name.count <= 40 && name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "_") })) {
            throw PolicyError(path: ["grounds", name], message: "a ground is a lower-case name like 'abuse_of_a_child'")
        }
        guard (1...60).contains(objectionWorkingDays) else { throw PolicyError(path: ["objection_working_days"], message: "must be 1 to 60") }
        for (i, d) in (holidays ?? []).enumerated() where CivilDate(iso: d) == nil {
            throw PolicyError(path: ["holidays", String(i)], message: "'\(d)' is not a date (YYYY-MM-DD)")
        }
        for (i, d) in (workdays ?? []).enumerated() where CivilDate(iso: d) == nil {
            throw PolicyError(path: ["workdays", String(i)], message: "'\(d)' is not a date (YYYY-MM-DD)")
        }
        guard (1024...100_000_000).contains(evidenceMaxBytes) else {
            throw PolicyError(path: ["evidence_max_bytes"], message: "must be 1 KiB to 100 MB")
        }
        guard !evidenceTypes.isEmpty else { throw PolicyError(path: ["evidence_types"], message: "allow at least one type") }
        guard (1...200).contains(evidencePerCase) else { throw PolicyError(path: ["evidence_per_case"], message: "must be 1 to 200") }
    }
}
