import Testing

@testable import RegistryDomain

@Suite("Revocation case machine")
struct CaseMachineTests {
    static let legal: [CaseState: [CaseCommand: CaseState]] = [
        .submitted: [.startReview: .underReview, .withdraw: .withdrawn],
        .underReview: [.requestInformation: .awaitingInformation, .proposeDecision: .decisionProposed, .withdraw: .withdrawn],
        .awaitingInformation: [.provideInformation: .underReview, .withdraw: .withdrawn],
        .decisionProposed: [.returnForReview: .underReview, .confirmDecision: .decided, .withdraw: .withdrawn],
        .decided: [.startNotice: .noticePeriod],  // outcome upheld (see facts below)
        .noticePeriod: [.object: .objectionReview, .finalize: .final],
        .objectionReview: [.upholdObjection: .closed, .rejectObjection: .final],
        .final: [.execute: .executed],
        .executed: [:], .withdrawn: [:], .closed: [:],
    ]

    static func actor(for command: CaseCommand, user: UserID = .n(2)) -> CaseActor {
        let kind = command.actors.first!
        return CaseActor(kind: kind, userID: kind == .system ? nil : user)
    }

    @Test("the whole state × command matrix: exactly the drawn arrows are legal", arguments: CaseState.allCases)
    func matrix(state: CaseState) throws {
        let facts = CaseFacts(state: state, proposedOutcome: .upheld, outcome: .upheld, requesterID: .n(11), proposedBy: .n(1))
        for command in CaseCommand.allCases {
            if let expected = Self.legal[state]?[command] {
                let actor = Self.actor(for: command, user: command == .upholdObjection || command == .rejectObjection ? .n(3) : .n(2))
                #expect(try CaseMachine.apply(command, facts: facts, by: actor) == expected, "\(state) \(command)")
            } else {
                let error = #expect(throws: RegistryError.self, "\(state) \(command)") {
                    try CaseMachine.apply(command, facts: facts, by: Self.actor(for: command))
                }
                #expect(error?.code == "illegal_transition")
            }
        }
    }

    @Test("a rejected decision closes; an upheld one starts the notice period")
    func outcomes() throws {
        let system = CaseActor(kind: .system, userID: nil)
        #expect(try CaseMachine.apply(.close, facts: .init(state: .decided, outcome: .rejected), by: system) == .closed)
        expectError("illegal_transition") { try CaseMachine.apply(.startNotice, facts: .init(state: .decided, outcome: .rejected), by: system) }
        expectError("illegal_transition") { try CaseMachine.apply(.close, facts: .init(state: .decided, outcome: .upheld), by: system) }
    }

    @Test("four eyes, no conflict of interest, objections reviewed by someone who took no part, steps only by their actor")
    func fairness() {
        let facts = CaseFacts(
            state: .decisionProposed,
            proposedOutcome: .upheld,
            requesterID: .n(11),
            proposedBy: .n(1),
            workerAgencies: [AgencyID.n(9)]
        )
        let four = #expect(throws: RegistryError.self) {
            try CaseMachine.apply(.confirmDecision, facts: facts, by: CaseActor(kind: .administrator, userID: .n(1)))
        }
        #expect(four?.code == "four_eyes")
        let requester = #expect(throws: RegistryError.self) {
            try CaseMachine.apply(.confirmDecision, facts: facts, by: CaseActor(kind: .administrator, userID: .n(11)))
        }
        #expect(requester?.code == "conflict_of_interest")
        let agency = #expect(throws: RegistryError.self) {
            try CaseMachine.apply(.confirmDecision, facts: facts, by: CaseActor(kind: .administrator, userID: .n(99), agencyID: .n(9)))
        }
        #expect(agency?.code == "conflict_of_interest")
        let review = CaseFacts(state: .objectionReview, outcome: .upheld, proposedBy: .n(1), decidedBy: .n(2))
        for admin in [UserID.n(1), .n(2)] {
            let tookPart = #expect(throws: RegistryError.self) {
                try CaseMachine.apply(.rejectObjection, facts: review, by: CaseActor(kind: .administrator, userID: admin))
            }
            #expect(tookPart?.code == "took_part")
        }
        expectError("not_your_step") {
            try CaseMachine.apply(.object, facts: .init(state: .noticePeriod), by: CaseActor(kind: .requester, userID: .n(11)))
        }
        expectError("not_your_step") {
            try CaseMachine.apply(.execute, facts: .init(state: .final), by: CaseActor(kind: .administrator, userID: .n(1)))
        }
    }

    @Test("working days skip weekends and holidays and count make-up workdays")
    func workingDays() {
        let d = { (s: String) in CivilDate(iso: s)! }
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
