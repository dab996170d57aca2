import Testing

@testable import RegistryDomain

@Suite("Revocation case machine")
struct CaseMachineTests {
    static func d(_ s: String) -> CivilDate { CivilDate(iso: s)! }
    /// Wednesday 25 November 2026; seven working days later is Friday 4 December.
    static let today = d("2026-11-25")
    static let policy = RevocationPolicy(
        version: 1,
        grounds: ["theft": .init(zh: "盗窃", en: "Theft")],
        objectionWorkingDays: 7,
        appealDays: 60,
        reinstatementAfterYears: 3,
        holidays: ["2026-10-01"],
        workdays: [],
        calendarLastYear: 2027,
        evidenceMaxBytes: 1_048_576,
        evidenceTypes: ["application/pdf"],
        evidencePerParty: 20
    )

    /// The drawn arrows for a revocation a source's flag opened, decided upheld, its window still
    /// running, not yet appealed: (state, command) → next state.
    static let legal: [CaseState: [CaseCommand: CaseState]] = [
        .submitted: [.startReview: .underReview, .withdraw: .withdrawn, .retractGrounds: .closed],
        .underReview: [
            .requestInformation: .awaitingInformation, .proposeDecision: .decisionProposed, .withdraw: .withdrawn, .retractGrounds: .closed,
        ],
        .awaitingInformation: [.provideInformation: .underReview, .withdraw: .withdrawn, .retractGrounds: .closed],
        .decisionProposed: [.returnForReview: .underReview, .confirmDecision: .decided, .withdraw: .withdrawn, .retractGrounds: .closed],
        .decided: [.startNotice: .noticePeriod, .retractGrounds: .closed],
        .noticePeriod: [.object: .objectionReview, .finalize: .final, .retractGrounds: .closed],
        .objectionReview: [.upholdObjection: .closed, .rejectObjection: .final, .retractGrounds: .closed],
        .final: [.execute: .executed, .retractGrounds: .closed],
        .executed: [.appeal: .appealReview],
        .appealReview: [.upholdAppeal: .reversed, .rejectAppeal: .executed],
        .reversed: [:], .withdrawn: [:], .closed: [:],
    ]

    static func sample(_ state: CaseState) -> CaseRecord {
        CaseRecord(
            state: state,
            requesterID: .n(11),
            originFlag: "flag-1",
            proposedOutcome: .upheld,
            proposedBy: .n(1),
            outcome: [.decided, .noticePeriod, .objectionReview, .final, .executed, .appealReview, .reversed].contains(state) ? .upheld : nil,
            decidedBy: .n(2),
            noticeLastDay: d("2026-12-04"),
            objection: state == .objectionReview ? Submission(text: "Not me.", channel: .worker, enteredBy: .n(20)) : nil,
            executedOn: [.executed, .appealReview].contains(state) ? d("2026-11-20") : nil,
            appeal: state == .appealReview ? Submission(text: "Wrong.", channel: .worker, enteredBy: .n(20)) : nil
        )
    }

    /// A person of each kind with no part in the case, so that only the drawn arrows and who takes
    /// each step decide.
    static func actor(_ kind: CaseCommand.Actor) -> CaseActor {
        switch kind {
        case .administrator: CaseActor(kind: .administrator, userID: .n(5))
        case .requester: CaseActor(kind: .requester, userID: .n(11))
        case .worker: CaseActor(kind: .worker, userID: .n(20))
        case .custodian: CaseActor(kind: .custodian, userID: .n(30), agencyID: .n(3))
        case .system: .system
        }
    }

    static let facts = CaseFacts(evidence: ["e1"])
    static let input = CaseInput(reason: "Because.", outcome: .upheld, channel: .letter, evidenceID: "e1")

    @Test("every state × command × actor: exactly the drawn arrows, each only by its actors", arguments: CaseState.allCases)
    func matrix(state: CaseState) throws {
        let c = Self.sample(state)
        for command in CaseCommand.allCases {
            for kind in CaseCommand.Actor.allCases {
                let label = "\(state.rawValue) \(command.rawValue) by \(kind.rawValue)"
                let run = {
                    try CaseMachine.transition(
                        c,
                        command,
                        by: Self.actor(kind),
                        input: Self.input,
                        facts: Self.facts,
                        policy: Self.policy,
                        today: Self.today
                    )
                }
                if let expected = Self.legal[state]?[command], command.actors.contains(kind) {
                    let (after, events) = try run()
                    guard case .step(let recorded, let from, let to, _, _) = events.first else {
                        Issue.record("\(label): no step recorded")
                        continue
                    }
                    #expect(recorded == command && from == state && to == expected, "\(label)")
                    // Follow-on system steps move on from the drawn arrow's state.
                    let steps = events.compactMap { e -> CaseState? in if case .step(_, _, let to, _, _) = e { to } else { nil } }
                    #expect(after.state == steps.last, "\(label)")
                } else {
                    do {
                        _ = try run()
                        Issue.record("\(label) was allowed")
                    } catch let error as RegistryError {
                        #expect(error.code == (Self.legal[state]?[command] == nil ? "illegal_transition" : "not_your_step"), "\(label): \(error)")
                    }
                }
            }
            // A case page offers each person exactly her legal steps, never the system's.
        }
        for kind in CaseCommand.Actor.allCases {
            let offered = CaseMachine.allowed(c, for: Self.actor(kind), facts: Self.facts, policy: Self.policy, today: Self.today)
            let expected = CaseCommand.allCases.filter { Self.legal[state]?[$0] != nil && $0.actors.contains(kind) && !$0.isSystemStep }
            #expect(offered == expected, "\(state.rawValue) offered to \(kind.rawValue)")
        }
    }

    @Test("finalize is never offered to an administrator, and she cannot take it")
    func finalizeIsTheSystems() {
        let admin = Self.actor(.administrator)
        for state in CaseState.allCases {
            #expect(
                !CaseMachine.allowed(Self.sample(state), for: admin, facts: Self.facts, policy: Self.policy, today: Self.today).contains(.finalize)
            )
        }
        expectError("not_your_step") {
            try CaseMachine.transition(
                Self.sample(.noticePeriod),
                .finalize,
                by: admin,
                input: Self.input,
                facts: Self.facts,
                policy: Self.policy,
                today: Self.today
            )
        }
    }

    func run(
        _ c: CaseRecord,
        _ command: CaseCommand,
        _ actor: CaseActor,
        input: CaseInput = CaseMachineTests.input,
        facts: CaseFacts = CaseMachineTests.facts,
        today: CivilDate = CaseMachineTests.today
    ) throws -> (CaseRecord, [CaseEvent]) {
        try CaseMachine.transition(c, command, by: actor, input: input, facts: facts, policy: Self.policy, today: today)
    }

    @Test("a confirmed ban opens the window in working days and carries nothing out; a rejected one closes and lifts suspensions")
    func confirm() throws {
        var proposed = Self.sample(.decisionProposed)
        proposed.outcome = nil
        let (upheld, events) = try run(proposed, .confirmDecision, Self.actor(.administrator))
        #expect(upheld.state == .noticePeriod && upheld.outcome == .upheld && upheld.decidedBy == .n(5))
        #expect(upheld.noticeLastDay == Self.d("2026-12-04"))
        #expect(events.contains(.tellWorker(.decision(lastDay: Self.d("2026-12-04")))))
        #expect(!events.contains(.imposeBan))
        proposed.proposedOutcome = .rejected
        let (rejected, closing) = try run(proposed, .confirmDecision, Self.actor(.administrator))
        #expect(rejected.state == .closed)
        #expect(closing.contains(.liftSuspensions(reason: "The case ended without a ban.")) && closing.contains(.tellWorker(.closed)))
    }

    @Test("the window is honoured: a rejected objection waits for its end; time then executes")
    func window() throws {
        let review = Self.sample(.objectionReview)
        let (final, events) = try run(review, .rejectObjection, CaseActor(kind: .administrator, userID: .n(7)))
        #expect(final.state == .final && final.objection?.outcome == .rejected)
        #expect(!events.contains(.imposeBan))
        #expect(events.contains(.tellWorker(.objectionRejected(lastDay: Self.d("2026-12-04")))))
        // On its last day nothing happens; the day after, it is carried out.
        let (same, none) = try CaseMachine.due(final, policy: Self.policy, today: Self.d("2026-12-04"))
        #expect(same.state == .final && none.isEmpty)
        let (done, executed) = try CaseMachine.due(final, policy: Self.policy, today: Self.d("2026-12-05"))
        #expect(done.state == .executed && done.executedOn == Self.d("2026-12-05"))
        #expect(executed.contains(.imposeBan))
        #expect(executed.contains(.tellWorker(.executed(on: Self.d("2026-12-05"), appealUntil: Self.d("2027-02-03")))))
        // With no objection, the same: final and executed once the window has passed.
        let (quiet, steps) = try CaseMachine.due(Self.sample(.noticePeriod), policy: Self.policy, today: Self.d("2026-12-07"))
        #expect(quiet.state == .executed && steps.filter { if case .step = $0 { true } else { false } }.count == 2)
        // An objection still under review when the window ends waits for its review.
        let (waiting, nothing) = try CaseMachine.due(review, policy: Self.policy, today: Self.d("2026-12-10"))
        #expect(waiting.state == .objectionReview && nothing.isEmpty)
        // Reviewed after the window ended: nothing is left to wait for.
        let (late, lateEvents) = try run(review, .rejectObjection, CaseActor(kind: .administrator, userID: .n(7)), today: Self.d("2026-12-10"))
        #expect(late.state == .executed && lateEvents.contains(.imposeBan))
        // An upheld objection closes the case in her favour.
        let (closed, closing) = try run(review, .upholdObjection, CaseActor(kind: .administrator, userID: .n(7)))
        #expect(closed.state == .closed && closing.contains(.tellWorker(.closed)) && !closing.contains(.imposeBan))
        // Objecting after the last day is refused.
        expectError("notice_over") { try run(Self.sample(.noticePeriod), .object, Self.actor(.worker), today: Self.d("2026-12-05")) }
    }

    @Test("a reinstatement in her favour takes effect when confirmed, with its own plain notice")
    func reinstatement() throws {
        var c = Self.sample(.decisionProposed)
        c.kind = .reinstatement
        c.outcome = nil
        c.originFlag = nil
        let (after, events) = try run(c, .confirmDecision, Self.actor(.administrator))
        #expect(after.state == .executed)
        #expect(events.contains(.liftBan) && events.contains(.tellWorker(.reinstated)))
        #expect(!events.contains { if case .tellWorker(.decision) = $0 { true } else { false } })
        c.proposedOutcome = .rejected
        let (refused, refusal) = try run(c, .confirmDecision, Self.actor(.administrator))
        #expect(refused.state == .closed && refusal.contains(.tellWorker(.reinstatementRefused)))
        // Those who took part in the case that barred her do not decide it.
        let facts = CaseFacts(bannedCaseParticipants: [.n(5)], evidence: ["e1"])
        expectError("took_part") { try run(c, .confirmDecision, Self.actor(.administrator), facts: facts) }
        #expect(CaseMachine.reinstatementOpens(executedOn: Self.d("2024-02-29"), policy: Self.policy) == Self.d("2027-03-01"))
    }

    @Test("one appeal within the period, decided by an administrator who took no part")
    func appeal() throws {
        let executed = Self.sample(.executed)
        let (appealed, _) = try run(executed, .appeal, Self.actor(.worker))
        #expect(appealed.state == .appealReview && appealed.appeal?.channel == .worker)
        expectError("appeal_over") { try run(executed, .appeal, Self.actor(.worker), today: Self.d("2027-01-20")) }
        let participants = CaseFacts(participants: [.n(5)], evidence: ["e1"])
        expectError("took_part") { try run(appealed, .upholdAppeal, Self.actor(.administrator), facts: participants) }
        let (reversed, events) = try run(appealed, .upholdAppeal, CaseActor(kind: .administrator, userID: .n(8)))
        #expect(reversed.state == .reversed && events.contains(.liftBan) && events.contains(.tellWorker(.appealUpheld)))
        let (kept, _) = try run(appealed, .rejectAppeal, CaseActor(kind: .administrator, userID: .n(8)))
        #expect(kept.state == .executed && kept.appeal?.outcome == .rejected)
        expectError("illegal_transition") { try run(kept, .appeal, Self.actor(.worker)) }
    }

    @Test("recusal: the filer, declared ties and agencies' staff are barred from every step; four eyes; no part in what is reviewed")
    func recusal() {
        let proposed = Self.sample(.decisionProposed)
        expectError("four_eyes") { try run(proposed, .confirmDecision, CaseActor(kind: .administrator, userID: .n(1))) }
        expectError("conflict_of_interest") { try run(proposed, .confirmDecision, CaseActor(kind: .administrator, userID: .n(11))) }
        let agencies = CaseFacts(workerAgencies: [.n(9)])
        expectError("conflict_of_interest") {
            try run(proposed, .confirmDecision, CaseActor(kind: .administrator, userID: .n(99), agencyID: .n(9)), facts: agencies)
        }
        let tied = CaseFacts(ties: [.n(6): ["her sister-in-law"]])
        for command in [CaseCommand.startReview] {
            expectError("conflict_of_interest") {
                try run(Self.sample(.submitted), command, CaseActor(kind: .administrator, userID: .n(6)), facts: tied)
            }
        }
        #expect(CaseMachine.exclusions(of: .n(6), command: .startReview, in: proposed, facts: tied) == [.tie("her sister-in-law")])
        #expect(CaseMachine.exclusions(of: .n(1), command: .confirmDecision, in: proposed, facts: tied) == [.proposed])
        #expect(CaseMachine.exclusions(of: .n(5), command: .confirmDecision, in: proposed, facts: tied).isEmpty)
        let review = Self.sample(.objectionReview)
        for admin in [UserID.n(1), .n(2)] {
            expectError("took_part") { try run(review, .rejectObjection, CaseActor(kind: .administrator, userID: admin)) }
        }
        // A tie also keeps her from offering the step.
        #expect(
            CaseMachine.allowed(
                Self.sample(.submitted),
                for: CaseActor(kind: .administrator, userID: .n(6)),
                facts: tied,
                policy: Self.policy,
                today: Self.today
            ).isEmpty
        )
    }

    @Test("an objection on her behalf: in person or by letter through an administrator, by her agency with her signed consent")
    func onHerBehalf() throws {
        let notice = Self.sample(.noticePeriod)
        let admin = Self.actor(.administrator)
        expectError("missing_field") { try run(notice, .object, admin, input: CaseInput(reason: "She came in.")) }
        expectError("missing_field") { try run(notice, .object, admin, input: CaseInput(reason: "A letter.", channel: .letter)) }
        expectError("missing_field") { try run(notice, .object, admin, input: CaseInput(reason: "A letter.", channel: .letter, evidenceID: "other")) }
        let (inPerson, _) = try run(notice, .object, admin, input: CaseInput(reason: "She came in.", channel: .inPerson))
        #expect(inPerson.objection == Submission(text: "She came in.", channel: .inPerson, enteredBy: .n(5)))
        let agency = Self.actor(.custodian)
        expectError("missing_field") { try run(notice, .object, agency, input: CaseInput(reason: "For her.")) }
        let (byAgency, _) = try run(notice, .object, agency, input: CaseInput(reason: "For her.", evidenceID: "e1"))
        #expect(byAgency.objection == Submission(text: "For her.", channel: .agency, enteredBy: .n(30), evidenceID: "e1"))
        let (hers, _) = try run(notice, .object, Self.actor(.worker), input: CaseInput(reason: "Not me."))
        #expect(hers.objection?.channel == .worker)
        // One objection per case.
        expectError("illegal_transition") { try run(inPerson, .object, Self.actor(.worker)) }
    }

    @Test("a retracted flag closes the system's case before execution, never a person's")
    func retraction() throws {
        let (closed, events) = try run(Self.sample(.noticePeriod), .retractGrounds, .system)
        #expect(closed.state == .closed && events.contains(.tellWorker(.closed)))
        #expect(events.contains(.liftSuspensions(reason: "The case ended without a ban.")))
        var filed = Self.sample(.underReview)
        filed.originFlag = nil
        expectError("illegal_transition") { try run(filed, .retractGrounds, .system) }
        expectError("illegal_transition") { try run(Self.sample(.executed), .retractGrounds, .system) }
    }

    @Test("working days skip weekends and holidays and count make-up workdays")
    func workingDays() {
        func d(_ s: String) -> CivilDate { Self.d(s) }
        // Wednesday 2026-11-25 + 7 working days = Friday 2026-12-04.
        #expect(WorkingDays.add(7, to: d("2026-11-25"), holidays: []) == d("2026-12-04"))
        // From Friday: Saturday and Sunday do not count.
        #expect(WorkingDays.add(1, to: d("2026-11-27"), holidays: []) == d("2026-11-30"))
        // Across the National Day week (Oct 1-7 holidays, Oct 10 a make-up Saturday).
        let holidays = Set((1...7).map { d("2026-10-0\($0)") })
        #expect(WorkingDays.add(3, to: d("2026-09-30"), holidays: holidays, workdays: [d("2026-10-10")]) == d("2026-10-10"))
        #expect(WorkingDays.add(3, to: d("2026-09-30"), holidays: holidays) == d("2026-10-12"))
        #expect(d("2026-11-28").weekday == 6 && d("2026-11-30").weekday == 1)
    }
}
