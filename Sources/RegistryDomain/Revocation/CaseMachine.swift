/// The revocation case workflow, as one pure decision. A ban ends a livelihood: no state can be
/// skipped, every step names who may take it, the fairness rules are checked here, and the
/// public-notice window is honoured whatever happens inside it.
///
///     submitted → under_review ⇄ awaiting_information
///     under_review → decision_proposed → (return) under_review
///     decision_proposed → decided (another administrator confirms)
///     decided(upheld, revocation) → notice_period → final → executed   (final waits for the window's end)
///     decided(upheld, reinstatement) → executed                          (in her favour: at once)
///     decided(rejected) → closed
///     notice_period → objection_review → closed (objection upheld) | final (rejected: waits for the window's end)
///     executed → appeal_review → reversed (appeal upheld: the ban is lifted) | executed (rejected; no second appeal)
///     submitted … final (a system case whose flag its source retracted) → closed
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
    case appealReview = "appeal_review"
    case reversed
    case withdrawn
    case closed

    /// Whether the case still waits for someone: in the administrators' queue.
    public var isOpen: Bool { ![.executed, .reversed, .withdrawn, .closed].contains(self) }

    /// Before execution: the ban is not in force, and a retracted source ends the case.
    public var isBeforeExecution: Bool { isOpen && self != .appealReview }
}

public enum CaseOutcome: String, Sendable, Codable, CaseIterable {
    case upheld, rejected
}

public enum CaseKind: String, Sendable, Codable, CaseIterable {
    case revocation, reinstatement
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
    case appeal
    case upholdAppeal = "uphold_appeal"
    case rejectAppeal = "reject_appeal"
    case retractGrounds = "retract_grounds"
    case withdraw

    /// Who takes part in a case. `custodian` is the staff of the agency that holds her now (when
    /// it is not the requester): it may object or appeal on her behalf, with her signed consent.
    public enum Actor: String, Sendable, Codable, CaseIterable { case administrator, requester, worker, custodian, system }

    public var actors: Set<Actor> {
        switch self {
        case .startReview, .requestInformation, .proposeDecision, .returnForReview, .confirmDecision, .upholdObjection, .rejectObjection,
            .upholdAppeal, .rejectAppeal:
            [.administrator]
        case .provideInformation: [.requester, .administrator]
        // Hers; an administrator records one made in person or by letter, her agency one she signed.
        case .object, .appeal: [.worker, .administrator, .custodian]
        case .withdraw: [.requester]
        case .startNotice, .close, .finalize, .execute, .retractGrounds: [.system]
        }
    }

    /// Steps only the system takes, after a person's step or when time passes.
    public var isSystemStep: Bool { actors == [.system] }
}

/// How an objection or an appeal reached the registry: from her own account, in person or by
/// letter to an administrator, or through her agency with her signed consent.
public enum SubmissionChannel: String, Sendable, Codable, CaseIterable {
    case worker
    case inPerson = "in_person"
    case letter
    case agency
}

/// Her objection (inside the notice window) or her appeal (after execution): always recorded as
/// hers, with who entered it and how it came.
public struct Submission: Sendable, Equatable {
    public var text: String
    public var channel: SubmissionChannel
    public var enteredBy: UserID?
    /// The scanned letter or her signed consent, among the case's evidence.
    public var evidenceID: String?
    public var outcome: CaseOutcome?
    public var decidedBy: UserID?

    public init(
        text: String,
        channel: SubmissionChannel,
        enteredBy: UserID?,
        evidenceID: String? = nil,
        outcome: CaseOutcome? = nil,
        decidedBy: UserID? = nil
    ) {
        self.text = text
        self.channel = channel
        self.enteredBy = enteredBy
        self.evidenceID = evidenceID
        self.outcome = outcome
        self.decidedBy = decidedBy
    }
}

/// The workflow's part of a case: what the machine reads and returns.
public struct CaseRecord: Sendable, Equatable {
    public var kind: CaseKind
    public var state: CaseState
    public var requesterID: UserID?
    /// Opened by the system because of this flag (nil for a case a person filed).
    public var originFlag: String?
    public var proposedOutcome: CaseOutcome?
    public var proposedBy: UserID?
    public var outcome: CaseOutcome?
    public var decidedBy: UserID?
    /// The last day of the public-notice window (China time); execution waits until it has passed.
    public var noticeLastDay: CivilDate?
    public var objection: Submission?
    public var executedOn: CivilDate?
    public var appeal: Submission?

    public init(
        kind: CaseKind = .revocation,
        state: CaseState,
        requesterID: UserID? = nil,
        originFlag: String? = nil,
        proposedOutcome: CaseOutcome? = nil,
        proposedBy: UserID? = nil,
        outcome: CaseOutcome? = nil,
        decidedBy: UserID? = nil,
        noticeLastDay: CivilDate? = nil,
        objection: Submission? = nil,
        executedOn: CivilDate? = nil,
        appeal: Submission? = nil
    ) {
        self.kind = kind
        self.state = state
        self.requesterID = requesterID
        self.originFlag = originFlag
        self.proposedOutcome = proposedOutcome
        self.proposedBy = proposedBy
        self.outcome = outcome
        self.decidedBy = decidedBy
        self.noticeLastDay = noticeLastDay
        self.objection = objection
        self.executedOn = executedOn
        self.appeal = appeal
    }
}

/// What the service gathers about the people around a case before the machine decides.
public struct CaseFacts: Sendable, Equatable {
    /// Agencies that ever held the worker — their staff may not adjudicate.
    public var workerAgencies: Set<AgencyID>
    /// Ties administrators declared to this worker, to an agency that held her, or to this case.
    public var ties: [UserID: [String]]
    /// Administrators who took a step in this case.
    public var participants: Set<UserID>
    /// For a reinstatement: administrators who took a step in the case that barred her.
    public var bannedCaseParticipants: Set<UserID>
    /// The files on her side of the case, by id: the scanned letter or the signed consent must be one.
    public var evidence: Set<String>

    public init(
        workerAgencies: Set<AgencyID> = [],
        ties: [UserID: [String]] = [:],
        participants: Set<UserID> = [],
        bannedCaseParticipants: Set<UserID> = [],
        evidence: Set<String> = []
    ) {
        self.workerAgencies = workerAgencies
        self.ties = ties
        self.participants = participants
        self.bannedCaseParticipants = bannedCaseParticipants
        self.evidence = evidence
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

    public static let system = CaseActor(kind: .system, userID: nil)
}

/// What a person's step carries besides the command.
public struct CaseInput: Sendable, Equatable {
    public var reason: String
    public var outcome: CaseOutcome?
    public var channel: SubmissionChannel?
    public var evidenceID: String?

    public init(reason: String, outcome: CaseOutcome? = nil, channel: SubmissionChannel? = nil, evidenceID: String? = nil) {
        self.reason = reason
        self.outcome = outcome
        self.channel = channel
        self.evidenceID = evidenceID
    }
}

/// What she is told, in plain words, after a step.
public enum CaseNotice: Sendable, Equatable {
    /// An upheld decision is published: she may object until `lastDay`.
    case decision(lastDay: CivilDate)
    /// Her objection was reviewed and not upheld; the ban takes effect after `lastDay`.
    case objectionRejected(lastDay: CivilDate)
    /// The case ended in her favour (rejected, objection upheld, withdrawn, source retracted).
    case closed
    /// The ban is in force from `on`; she may appeal until `appealUntil`.
    case executed(on: CivilDate, appealUntil: CivilDate)
    /// Reinstated: the ban is lifted, at once.
    case reinstated
    /// Her application for reinstatement was refused.
    case reinstatementRefused
    /// Her appeal was upheld: the ban is lifted.
    case appealUpheld
    /// Her appeal was not upheld: the ban stays.
    case appealRejected
}

/// Everything a transition causes: the service persists each, in the same transaction.
public enum CaseEvent: Sendable, Equatable {
    /// A recorded step on the timeline (and in the audit log).
    case step(command: CaseCommand, from: CaseState, to: CaseState, actor: CaseActor, reason: String)
    case tellWorker(CaseNotice)
    /// A revocation executed: the ban row, the worker revoked and unlisted.
    case imposeBan
    /// The ban of this case (an upheld appeal) or of the case a reinstatement reverses is lifted.
    case liftBan
    /// The interim suspensions this case started are lifted, with the reason.
    case liftSuspensions(reason: String)
    case regrade(reason: String)
}

/// Why an administrator may not act on a case (shown to administrators on the case page).
public enum Exclusion: Sendable, Equatable, Hashable {
    case filed
    case agencyStaff
    case tie(String)
    /// Proposed the decision she would confirm (four eyes).
    case proposed
    /// Proposed or confirmed the decision an objection is against.
    case tookPartInDecision
    /// Took a step in the case an appeal is against.
    case tookPart
    case tookPartInBannedCase

    public var code: String {
        switch self {
        case .filed, .agencyStaff, .tie: "conflict_of_interest"
        case .proposed: "four_eyes"
        case .tookPartInDecision, .tookPart, .tookPartInBannedCase: "took_part"
        }
    }

    public var words: String {
        switch self {
        case .filed: "filed this case"
        case .agencyStaff: "is staff of an agency that held the worker"
        case .tie(let text): "declared a tie: \(text)"
        case .proposed: "proposed the decision (another administrator confirms it)"
        case .tookPartInDecision: "proposed or confirmed the decision (reviews no objection to it)"
        case .tookPart: "took part in this case"
        case .tookPartInBannedCase: "took part in the case that barred her"
        }
    }
}

public enum CaseMachine {
    /// The table of legal moves: (state, command) → next state, for this case.
    public static func next(_ c: CaseRecord, _ command: CaseCommand) -> CaseState? {
        switch (c.state, command) {
        case (.submitted, .startReview): .underReview
        case (.underReview, .requestInformation): .awaitingInformation
        case (.awaitingInformation, .provideInformation): .underReview
        case (.underReview, .proposeDecision): .decisionProposed
        case (.decisionProposed, .returnForReview): .underReview
        case (.decisionProposed, .confirmDecision): .decided
        case (.decided, .startNotice) where c.outcome == .upheld && c.kind == .revocation: .noticePeriod
        case (.decided, .execute) where c.outcome == .upheld && c.kind == .reinstatement: .executed
        case (.decided, .close) where c.outcome == .rejected: .closed
        case (.noticePeriod, .object) where c.objection == nil: .objectionReview
        case (.noticePeriod, .finalize): .final
        case (.objectionReview, .upholdObjection): .closed
        case (.objectionReview, .rejectObjection): .final
        case (.final, .execute): .executed
        case (.executed, .appeal) where c.kind == .revocation && c.appeal == nil: .appealReview
        case (.appealReview, .upholdAppeal): .reversed
        case (.appealReview, .rejectAppeal): .executed
        case (let s, .retractGrounds) where s.isBeforeExecution && c.originFlag != nil: .closed
        case (.submitted, .withdraw), (.underReview, .withdraw), (.awaitingInformation, .withdraw), (.decisionProposed, .withdraw): .withdrawn
        default: nil
        }
    }

    /// Why each administrator is barred from this step of this case (empty: free to act).
    public static func exclusions(
        of user: UserID,
        agency: AgencyID? = nil,
        command: CaseCommand,
        in c: CaseRecord,
        facts: CaseFacts
    )
        -> [Exclusion]
    {
        var out: [Exclusion] = []
        if user == c.requesterID { out.append(.filed) }
        if let agency, facts.workerAgencies.contains(agency) { out.append(.agencyStaff) }
        for tie in facts.ties[user] ?? [] { out.append(.tie(tie)) }
        switch command {
        case .confirmDecision where user == c.proposedBy:
            out.append(.proposed)
        case .upholdObjection, .rejectObjection:
            if user == c.proposedBy || user == c.decidedBy { out.append(.tookPartInDecision) }
        case .upholdAppeal, .rejectAppeal:
            let deciders = [c.proposedBy, c.decidedBy, c.objection?.decidedBy, c.objection?.enteredBy]
            if facts.participants.contains(user) || deciders.contains(user) { out.append(.tookPart) }
        default: break
        }
        if c.kind == .reinstatement, [.proposeDecision, .confirmDecision].contains(command), facts.bannedCaseParticipants.contains(user) {
            out.append(.tookPartInBannedCase)
        }
        return out
    }

    /// Whether `actor` may take `command` now: the drawn arrow exists, the step is the actor's,
    /// no fairness rule bars the administrator, and the window and the appeal period allow it.
    public static func check(
        _ command: CaseCommand,
        on c: CaseRecord,
        by actor: CaseActor,
        facts: CaseFacts,
        policy: RevocationPolicy,
        today: CivilDate
    ) throws(RegistryError) -> CaseState {
        guard let to = next(c, command) else {
            let allowed = allowed(c, for: actor, facts: facts, policy: policy, today: today).map(\.rawValue)
            throw RegistryError(
                .conflict,
                code: "illegal_transition",
                message: "A case in '\(c.state.rawValue)' cannot take '\(command.rawValue)'."
                    + (allowed.isEmpty ? " You have no step to take in it now." : " Your steps: \(allowed.joined(separator: ", "))."),
                details: ["state": c.state.rawValue, "allowed": allowed.joined(separator: ",")]
            )
        }
        guard command.actors.contains(actor.kind) else {
            throw RegistryError(
                .forbidden,
                code: "not_your_step",
                message: "'\(command.rawValue)' is taken by: \(command.actors.map(\.rawValue).sorted().joined(separator: ", "))."
            )
        }
        if actor.kind == .administrator, let user = actor.userID,
            let first = exclusions(of: user, agency: actor.agencyID, command: command, in: c, facts: facts).first
        {
            let message: String =
                switch first {
                case .filed: "You filed this case: another administrator must handle it."
                case .agencyStaff: "Staff of the worker's agencies cannot adjudicate her case."
                case .tie: "You declared a tie to this worker, her agency or this case: another administrator must handle it."
                case .proposed: "Another administrator must confirm the decision you proposed."
                case .tookPartInDecision: "An administrator who took no part in the decision must review the objection."
                case .tookPart: "An administrator who took no part in the case must decide the appeal."
                case .tookPartInBannedCase: "An administrator who took no part in the case that barred her must decide her reinstatement."
                }
            throw RegistryError(.forbidden, code: first.code, message: message)
        }
        switch command {
        case .object:
            guard let last = c.noticeLastDay, today <= last else {
                throw RegistryError(.conflict, code: "notice_over", message: "The objection period has ended.")
            }
        case .appeal:
            guard let executed = c.executedOn, today <= executed.adding(days: policy.appealDays) else {
                throw RegistryError(
                    .conflict,
                    code: "appeal_over",
                    message: "An appeal is made within \(policy.appealDays) days of the ban taking effect."
                )
            }
        default: break
        }
        return to
    }

    /// The steps `actor` may take now (never the system's own): what a case page offers her.
    public static func allowed(
        _ c: CaseRecord,
        for actor: CaseActor,
        facts: CaseFacts,
        policy: RevocationPolicy,
        today: CivilDate
    )
        -> [CaseCommand]
    {
        CaseCommand.allCases.filter { command in
            !command.isSystemStep && next(c, command) != nil && command.actors.contains(actor.kind)
                && (try? check(command, on: c, by: actor, facts: facts, policy: policy, today: today)) != nil
        }
    }

    /// The whole decision: the case after `command` and everything that follows from it — the
    /// system's own steps (notice, close, execution), suspensions to lift, the ban, what she is
    /// told, regrades. Nothing is written here; the service persists the result in one transaction.
    public static func transition(
        _ c: CaseRecord,
        _ command: CaseCommand,
        by actor: CaseActor,
        input: CaseInput,
        facts: CaseFacts,
        policy: RevocationPolicy,
        today: CivilDate
    ) throws(RegistryError) -> (CaseRecord, [CaseEvent]) {
        let to = try check(command, on: c, by: actor, facts: facts, policy: policy, today: today)
        var c = c
        var events: [CaseEvent] = []
        switch command {
        case .proposeDecision:
            guard let outcome = input.outcome else { throw RegistryError.invalid("outcome", "Propose upheld or rejected.", code: "missing_field") }
            c.proposedOutcome = outcome
            c.proposedBy = actor.userID
        case .returnForReview:
            c.proposedOutcome = nil
            c.proposedBy = nil
        case .confirmDecision:
            c.outcome = c.proposedOutcome
            c.decidedBy = actor.userID
        case .object:
            c.objection = try submission(input, by: actor, facts: facts)
        case .appeal:
            c.appeal = try submission(input, by: actor, facts: facts)
        case .upholdObjection, .rejectObjection:
            c.objection?.outcome = command == .upholdObjection ? .upheld : .rejected
            c.objection?.decidedBy = actor.userID
        case .upholdAppeal, .rejectAppeal:
            c.appeal?.outcome = command == .upholdAppeal ? .upheld : .rejected
            c.appeal?.decidedBy = actor.userID
        default: break
        }
        events.append(.step(command: command, from: c.state, to: to, actor: actor, reason: input.reason))
        c.state = to

        // What follows is the system's, recorded as its own steps.
        switch command {
        case .confirmDecision:
            switch (c.kind, c.outcome) {
            case (.revocation, .upheld):
                let last = try policy.lastObjectionDay(from: today)
                c.noticeLastDay = last
                try follow(
                    &c,
                    &events,
                    .startNotice,
                    "Decision upheld: the worker is told and may object until \(last.iso); nothing is carried out before then.",
                    policy,
                    today
                )
                events.append(.tellWorker(.decision(lastDay: last)))
            case (.reinstatement, .upheld):
                try follow(&c, &events, .execute, "Reinstated: a decision in her favour takes effect when it is confirmed.", policy, today)
                c.executedOn = today
                events += [.liftBan, .regrade(reason: "reinstated"), .tellWorker(.reinstated)]
            default:
                try follow(&c, &events, .close, "Decision: the request is rejected.", policy, today)
                if c.kind == .revocation {
                    events += [.liftSuspensions(reason: "The case ended without a ban."), .tellWorker(.closed)]
                } else {
                    events.append(.tellWorker(.reinstatementRefused))
                }
            }
        case .upholdObjection, .withdraw, .retractGrounds:
            events += [.liftSuspensions(reason: "The case ended without a ban."), .tellWorker(.closed)]
        case .rejectObjection:
            if let last = c.noticeLastDay {
                events.append(.tellWorker(.objectionRejected(lastDay: last)))
            }
            // Reviewed after the window ended: nothing is left to wait for.
            if let last = c.noticeLastDay, today > last {
                try execute(&c, &events, policy: policy, today: today)
            }
        case .upholdAppeal:
            events += [.liftBan, .regrade(reason: "appeal upheld"), .tellWorker(.appealUpheld)]
        case .rejectAppeal:
            events.append(.tellWorker(.appealRejected))
        default: break
        }
        return (c, events)
    }

    /// What time does to a case on `today`: a notice window that has passed makes the decision
    /// final, and a final decision whose window has passed is carried out. Nothing otherwise.
    public static func due(_ c: CaseRecord, policy: RevocationPolicy, today: CivilDate) throws(RegistryError) -> (CaseRecord, [CaseEvent]) {
        var c = c
        var events: [CaseEvent] = []
        guard let last = c.noticeLastDay, today > last else { return (c, events) }
        if c.state == .noticePeriod {
            try follow(&c, &events, .finalize, "The notice period ended without an objection.", policy, today)
        }
        if c.state == .final {
            try execute(&c, &events, policy: policy, today: today)
        }
        return (c, events)
    }

    static func execute(_ c: inout CaseRecord, _ events: inout [CaseEvent], policy: RevocationPolicy, today: CivilDate) throws(RegistryError) {
        try follow(&c, &events, .execute, "Executed after the notice period: the worker is barred from practice.", policy, today)
        c.executedOn = today
        events += [
            .imposeBan, .liftSuspensions(reason: "Superseded by the ban."), .regrade(reason: "barred"),
            .tellWorker(.executed(on: today, appealUntil: today.adding(days: policy.appealDays))),
        ]
    }

    static func follow(
        _ c: inout CaseRecord,
        _ events: inout [CaseEvent],
        _ command: CaseCommand,
        _ reason: String,
        _ policy: RevocationPolicy,
        _ today: CivilDate
    ) throws(RegistryError) {
        let to = try check(command, on: c, by: .system, facts: CaseFacts(), policy: policy, today: today)
        events.append(.step(command: command, from: c.state, to: to, actor: .system, reason: reason))
        c.state = to
    }

    /// Her objection or appeal, as entered: by her; by an administrator, made in person or by a
    /// letter filed as evidence; or by her agency, with her signed consent filed as evidence.
    static func submission(_ input: CaseInput, by actor: CaseActor, facts: CaseFacts) throws(RegistryError) -> Submission {
        let channel: SubmissionChannel
        switch actor.kind {
        case .worker:
            channel = .worker
        case .administrator:
            guard let given = input.channel, given == .inPerson || given == .letter else {
                throw RegistryError.invalid("channel", "Say how she made it: in_person or letter.", code: "missing_field")
            }
            channel = given
        default:
            channel = .agency
        }
        if channel == .letter || channel == .agency {
            guard let evidence = input.evidenceID, facts.evidence.contains(evidence) else {
                throw RegistryError.invalid(
                    "evidence_id",
                    channel == .letter
                        ? "File her scanned letter as evidence of this case first, and name it."
                        : "File her signed consent as evidence of this case first, and name it.",
                    code: "missing_field"
                )
            }
        }
        return Submission(
            text: input.reason,
            channel: channel,
            enteredBy: actor.userID,
            evidenceID: input.evidenceID.flatMap { facts.evidence.contains($0) ? $0 : nil }
        )
    }

    /// When she may apply to be reinstated: `reinstatement_after_years` after the ban took effect.
    public static func reinstatementOpens(executedOn: CivilDate, policy: RevocationPolicy) -> CivilDate {
        let year = executedOn.year + policy.reinstatementAfterYears
        // A ban from 29 February opens on 1 March of a common year.
        return CivilDate(year: year, month: executedOn.month, day: executedOn.day) ?? CivilDate(year: year, month: 3, day: 1)!
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
