/// Workers' reviews of households (`Policies/households.yaml`): how long after the engagement
/// she may review, the serious problems she may report, and from how many substantiated ones a
/// household is flagged to the next agency and worker.
public struct HouseholdPolicy: Sendable, Equatable, Codable {
    public var version: Int
    public var reviewDaysAfterEnd: Int
    public var complaints: [String]
    public var warnAfterSubstantiated: Int
    public var textMaxLength: Int

    /// The four things she rates, 1 to 5.
    public static let dimensions = ["respect", "pay_on_time", "safety", "agreed_duties"]

    public init(
        version: Int = 1,
        reviewDaysAfterEnd: Int = 90,
        complaints: [String] = ["abuse", "unpaid_wages", "unsafe_conditions", "duties_breached"],
        warnAfterSubstantiated: Int = 1,
        textMaxLength: Int = 2000
    ) {
        self.version = version
        self.reviewDaysAfterEnd = reviewDaysAfterEnd
        self.complaints = complaints
        self.warnAfterSubstantiated = warnAfterSubstantiated
        self.textMaxLength = textMaxLength
    }

    enum CodingKeys: String, CodingKey {
        case version, complaints
        case reviewDaysAfterEnd = "review_days_after_end"
        case warnAfterSubstantiated = "warn_after_substantiated"
        case textMaxLength = "text_max_length"
    }

    public func validate() throws(PolicyError) {
        guard version == 1 else { throw PolicyError(path: ["version"], message: "must be 1") }
        guard (1...365).contains(reviewDaysAfterEnd) else { throw PolicyError(path: ["review_days_after_end"], message: "must be 1 to 365 days") }
        guard !complaints.isEmpty, Set(complaints).count == complaints.count else {
            throw PolicyError(path: ["complaints"], message: "lists each serious problem once, at least one")
        }
        for (i, c) in complaints.enumerated() where !(1...40).contains(c.count) || !c.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "_") }) {
            throw PolicyError(path: ["complaints", String(i)], message: "a complaint is named in lower-case letters and '_'")
        }
        guard (1...100).contains(warnAfterSubstantiated) else { throw PolicyError(path: ["warn_after_substantiated"], message: "must be 1 to 100") }
        guard (100...10_000).contains(textMaxLength) else { throw PolicyError(path: ["text_max_length"], message: "must be 100 to 10000") }
    }
}
