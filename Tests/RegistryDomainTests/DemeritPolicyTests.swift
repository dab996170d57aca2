import Testing

@testable import RegistryDomain

@Suite("Demerit policy")
struct DemeritPolicyTests {
    static func policy() -> DemeritPolicy {
        func offence(_ points: Int, _ by: DemeritPolicy.Recorder) -> DemeritPolicy.Offence {
            .init(points: points, expiresDays: 365, recordedBy: by, zh: "违规", en: "An offence")
        }
        return DemeritPolicy(
            answerDays: 14,
            offences: [
                "assessment_overturned": offence(6, .system), "transfer_unanswered": offence(3, .system),
                "suspended_worker_placement": offence(12, .system), "late_sealing": offence(3, .administrator),
            ],
            thresholds: .init(warning: 12, suspendRegistrations: 24, caseAgainst: 36)
        )
    }

    @Test("the points in force reach each level at its threshold, not before")
    func levels() throws {
        let policy = Self.policy()
        try policy.validate()
        #expect(policy.level(points: 0) == .none && policy.level(points: 11) == .none)
        #expect(policy.level(points: 12) == .warning && policy.level(points: 23) == .warning)
        #expect(policy.level(points: 24) == .registrationsSuspended && policy.level(points: 35) == .registrationsSuspended)
        #expect(policy.level(points: 36) == .caseAgainst && policy.level(points: 1000) == .caseAgainst)
        #expect(DemeritPolicy.Level.none < .warning && DemeritPolicy.Level.registrationsSuspended < .caseAgainst)
    }

    @Test("an agency answers before an administrator may uphold; withdrawing is open until a decision; a lapse upholds")
    func states() {
        #expect(DemeritState.notified.applying(.answer) == .answered)
        #expect(DemeritState.notified.applying(.uphold) == nil)
        #expect(DemeritState.notified.applying(.lapse) == .upheld)
        #expect(DemeritState.notified.applying(.withdraw) == .withdrawn)
        #expect(DemeritState.answered.applying(.uphold) == .upheld)
        #expect(DemeritState.answered.applying(.withdraw) == .withdrawn)
        #expect(DemeritState.answered.applying(.answer) == nil && DemeritState.answered.applying(.lapse) == nil)
        for event in [DemeritState.Event.answer, .uphold, .withdraw, .lapse] {
            #expect(DemeritState.upheld.applying(event) == nil && DemeritState.withdrawn.applying(event) == nil)
        }
    }

    @Test(
        "a policy that does not rise, misnames who records an offence, or leaves out one the registry records is refused",
        arguments: ["thresholds", "recorded_by", "missing", "points", "answer_days"]
    )
    func refused(_ what: String) {
        var policy = Self.policy()
        switch what {
        case "thresholds": policy.thresholds.suspendRegistrations = 12
        case "recorded_by": policy.offences["late_sealing"]?.recordedBy = .system
        case "missing": policy.offences["transfer_unanswered"] = nil
        case "points": policy.offences["late_sealing"]?.points = 0
        default: policy.answerDays = 0
        }
        #expect(throws: PolicyError.self) { try policy.validate() }
    }

    @Test(
        "a case against an agency: proposed from open; an objection only while the window is open; a decision after the objection or once the window closed"
    )
    func caseStates() {
        #expect(AgencyCaseState.open.applying(.propose) == .proposed)
        #expect(AgencyCaseState.open.applying(.decide(windowOpen: false)) == nil)
        #expect(AgencyCaseState.proposed.applying(.object(windowOpen: true)) == .objected)
        #expect(AgencyCaseState.proposed.applying(.object(windowOpen: false)) == nil)
        #expect(AgencyCaseState.proposed.applying(.decide(windowOpen: true)) == nil)
        #expect(AgencyCaseState.proposed.applying(.decide(windowOpen: false)) == .decided)
        #expect(AgencyCaseState.objected.applying(.decide(windowOpen: true)) == .decided)
        #expect(AgencyCaseState.objected.applying(.object(windowOpen: true)) == nil)
        #expect(AgencyCaseState.decided.applying(.propose) == nil && AgencyCaseState.decided.applying(.decide(windowOpen: false)) == nil)
    }
}
