/// Credit repair (信用修复): whether a worker may apply to have a flag on her file repaired.
/// A flag is repaired either after the period `flags.yaml` sets for its category
/// (`repair_after_years`, counted from the day it occurred; a category without one is never
/// repaired by the passing of time) or at any time on proof of correction. An administrator
/// decides; this function only says whether an application may be made, and if not, why.
public enum CreditRepair {
    /// What the worker asks on.
    public enum Basis: String, Sendable, Codable, CaseIterable, Hashable {
        /// The policy's period for the category has passed.
        case period
        /// Proof of correction (training completed, restitution made), with a statement and a file.
        case proof
    }

    /// The record an application is about, as far as the rule needs it.
    public struct Record: Sendable, Equatable {
        public var category: String
        public var status: FlagStatus
        public var occurredOn: CivilDate
        /// Already repaired (an approved application).
        public var repaired: Bool
        /// An application for it is waiting for a decision.
        public var applicationOpen: Bool

        public init(category: String, status: FlagStatus, occurredOn: CivilDate, repaired: Bool = false, applicationOpen: Bool = false) {
            self.category = category
            self.status = status
            self.occurredOn = occurredOn
            self.repaired = repaired
            self.applicationOpen = applicationOpen
        }
    }

    /// The answer, naming why not.
    public enum Eligibility: Sendable, Equatable {
        case eligible
        /// The record was repaired already: it cannot be repaired again.
        case alreadyRepaired
        /// An application for the record is open: one at a time.
        case applicationOpen
        /// A retracted record has no effect to repair.
        case retracted
        /// The category is unknown to the policy (a record of an older policy).
        case unknownCategory
        /// The policy sets no period for the category: only proof of correction can repair it.
        case noPeriod
        /// The period has not passed: applications on it open on this day.
        case periodNotOver(eligibleOn: CivilDate)

        /// A stable code for errors and pages.
        public var code: String {
            switch self {
            case .eligible: "eligible"
            case .alreadyRepaired: "already_repaired"
            case .applicationOpen: "repair_open"
            case .retracted: "flag_retracted"
            case .unknownCategory: "unknown_category"
            case .noPeriod: "no_repair_period"
            case .periodNotOver: "repair_period_not_over"
            }
        }

        /// The error an application refused for this reason throws (nil when eligible).
        public var error: RegistryError? {
            switch self {
            case .eligible: nil
            case .alreadyRepaired: RegistryError(.conflict, code: code, message: "This record was repaired already.")
            case .applicationOpen:
                RegistryError(.conflict, code: code, message: "An application to repair this record is already waiting for a decision.")
            case .retracted: RegistryError(.conflict, code: code, message: "This record was retracted by its source: there is nothing to repair.")
            case .unknownCategory: RegistryError(.unprocessable, code: code, message: "This record's category is not in the policy.")
            case .noPeriod:
                RegistryError(
                    .unprocessable,
                    code: code,
                    message: "Records of this category are not repaired by the passing of time: apply with proof of correction."
                )
            case .periodNotOver(let day):
                RegistryError(
                    .unprocessable,
                    code: code,
                    message: "The repair period for this record ends on \(day.iso): apply then, or now with proof of correction."
                )
            }
        }
    }

    /// The first day an application on `.period` is possible, or nil when the category has no period.
    public static func periodEnds(occurredOn: CivilDate, years: Int?) -> CivilDate? {
        guard let years, (1...50).contains(years) else { return nil }
        // 29 February of a leap year: the period ends on 28 February.
        let day = occurredOn.month == 2 && occurredOn.day == 29 ? 28 : occurredOn.day
        return CivilDate(year: occurredOn.year + years, month: occurredOn.month, day: day)
    }

    /// Whether the worker may apply to repair `record` on `basis` today.
    public static func eligibility(record: Record, basis: Basis, policy: FlagPolicy, today: CivilDate) -> Eligibility {
        if record.repaired { return .alreadyRepaired }
        if record.applicationOpen { return .applicationOpen }
        if record.status == .retracted { return .retracted }
        guard let category = policy.categories[record.category] else { return .unknownCategory }
        switch basis {
        case .proof:
            return .eligible
        case .period:
            guard let ends = periodEnds(occurredOn: record.occurredOn, years: category.repairAfterYears) else { return .noPeriod }
            return today < ends ? .periodNotOver(eligibleOn: ends) : .eligible
        }
    }
}
