import RegistryDomain
import Testing

/// Credit repair eligibility: a pure function of the record, the policy and the day.
@Suite("Credit repair eligibility")
struct CreditRepairTests {
    static let policy = FlagPolicy(
        version: 1,
        categories: [
            "theft": .init(source: .police, zh: "盗窃", en: "Theft", repairAfterYears: 5),
            "child_or_elder_abuse": .init(source: .police, zh: "虐待", en: "Abuse"),
            "fare_evasion": .init(source: .creditBureau, zh: "逃票", en: "Fare evasion", expiryYears: 2, repairAfterYears: 1),
        ],
        batchLimit: 100,
        signatureMaxSkewSeconds: 300,
        effects: []
    )

    static func day(_ iso: String) -> CivilDate { CivilDate(iso: iso)! }

    static func record(_ category: String = "theft", status: FlagStatus = .convicted, on: String = "2020-03-10") -> CreditRepair.Record {
        .init(category: category, status: status, occurredOn: day(on))
    }

    @Test("by period: eligible from the day the category's period ends, not the day before")
    func periodEndsOnItsDay() {
        let r = Self.record()
        #expect(
            CreditRepair.eligibility(record: r, basis: .period, policy: Self.policy, today: Self.day("2025-03-09"))
                == .periodNotOver(eligibleOn: Self.day("2025-03-10"))
        )
        #expect(CreditRepair.eligibility(record: r, basis: .period, policy: Self.policy, today: Self.day("2025-03-10")) == .eligible)
        #expect(CreditRepair.eligibility(record: r, basis: .period, policy: Self.policy, today: Self.day("2031-01-01")) == .eligible)
    }

    @Test("a category without a period is never repaired by time, but may be on proof")
    func noPeriodMeansProofOnly() {
        let r = Self.record("child_or_elder_abuse", on: "1990-01-01")
        #expect(CreditRepair.eligibility(record: r, basis: .period, policy: Self.policy, today: Self.day("2026-01-01")) == .noPeriod)
        #expect(CreditRepair.eligibility(record: r, basis: .proof, policy: Self.policy, today: Self.day("2026-01-01")) == .eligible)
    }

    @Test("proof of correction: at any time, even the day the record occurred")
    func proofAtAnyTime() {
        let r = Self.record(on: "2026-01-01")
        #expect(CreditRepair.eligibility(record: r, basis: .proof, policy: Self.policy, today: Self.day("2026-01-01")) == .eligible)
    }

    @Test("repaired, open, retracted and unknown records are refused, naming why, on either basis")
    func refusalsNameTheReason() {
        let today = Self.day("2030-01-01")
        for basis in CreditRepair.Basis.allCases {
            var repaired = Self.record()
            repaired.repaired = true
            repaired.applicationOpen = true
            #expect(CreditRepair.eligibility(record: repaired, basis: basis, policy: Self.policy, today: today) == .alreadyRepaired)
            var open = Self.record()
            open.applicationOpen = true
            #expect(CreditRepair.eligibility(record: open, basis: basis, policy: Self.policy, today: today) == .applicationOpen)
            #expect(
                CreditRepair.eligibility(record: Self.record(status: .retracted), basis: basis, policy: Self.policy, today: today)
                    == .retracted
            )
            #expect(
                CreditRepair.eligibility(record: Self.record("unknown_thing"), basis: basis, policy: Self.policy, today: today)
                    == .unknownCategory
            )
        }
    }

    @Test("every refusal carries an error with its code; eligible carries none")
    func errorsHaveCodes() {
        let all: [CreditRepair.Eligibility] = [
            .alreadyRepaired, .applicationOpen, .retracted, .unknownCategory, .noPeriod, .periodNotOver(eligibleOn: Self.day("2030-01-01")),
        ]
        for e in all { #expect(e.error?.code == e.code) }
        #expect(Set(all.map(\.code)).count == all.count)
        #expect(CreditRepair.Eligibility.eligible.error == nil)
        #expect(CreditRepair.Eligibility.noPeriod.error?.kind == .unprocessable)
        #expect(CreditRepair.Eligibility.applicationOpen.error?.kind == .conflict)
    }

    @Test("a record of 29 February: the period ends on 28 February of a common year")
    func leapDay() {
        #expect(CreditRepair.periodEnds(occurredOn: Self.day("2024-02-29"), years: 1) == Self.day("2025-02-28"))
        #expect(CreditRepair.periodEnds(occurredOn: Self.day("2024-02-29"), years: nil) == nil)
        #expect(CreditRepair.periodEnds(occurredOn: Self.day("2024-02-29"), years: 0) == nil)
    }

    @Test("the policy refuses a repair period out of range or past the category's expiry, naming the field")
    func policyValidation() {
        var p = Self.policy
        p.categories["theft"]?.repairAfterYears = 0
        #expect(throws: PolicyError(path: ["categories", "theft", "repair_after_years"], message: "must be 1 to 50")) { try p.validate() }
        p.categories["theft"]?.repairAfterYears = 51
        #expect(throws: PolicyError(path: ["categories", "theft", "repair_after_years"], message: "must be 1 to 50")) { try p.validate() }
        p = Self.policy
        p.categories["fare_evasion"]?.repairAfterYears = 3
        do {
            try p.validate()
            Issue.record("a repair period past expiry_years was accepted")
        } catch {
            #expect(error.path == ["categories", "fare_evasion", "repair_after_years"])
        }
        #expect(throws: Never.self) { try Self.policy.validate() }
    }
}
