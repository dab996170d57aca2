/// Employers' checks, reports, engagements and reviews (`Policies/reports.yaml`).
public struct ReportPolicy: Sendable, Equatable, Codable {
    public struct Dimensions: Sendable, Equatable, Codable {
        public var skill: [String]
        public var ethics: [String]

        public init(skill: [String], ethics: [String]) {
            self.skill = skill
            self.ethics = ethics
        }
    }

    public var version: Int
    public var consentCodeMinutes: Int
    /// A worker's codes that can be redeemed at once.
    public var consentCodesLiveMax: Int
    public var reportAccessMinutes: Int
    public var redeemFailuresAllowed: Int
    public var redeemWindowSeconds: Int
    public var activationCodeMinutes: Int
    public var reviewEditHours: Int
    public var reviewCommentMaxLength: Int
    public var replyMaxLength: Int
    public var reportRecentReviews: Int
    public var reviewDimensions: Dimensions
    public var publicLookupsPerMinute: Int
    /// Networks allowed more public lookups per minute than `publicLookupsPerMinute`: a partner
    /// platform that checks every placement, or a benchmark's own client. Each address in the
    /// network still has its own count.
    public var publicLookupAllowances: [LookupAllowance]
    public var searchPageMax: Int
    /// How deep the for-hire listing pages (offset), and searches per employer per minute.
    public var searchOffsetMax: Int
    public var searchesPerMinute: Int
    /// A signed report is valid for this many days after it was issued.
    public var signedReportValidDays: Int

    enum CodingKeys: String, CodingKey {
        case version
        case consentCodeMinutes = "consent_code_minutes"
        case consentCodesLiveMax = "consent_codes_live_max"
        case reportAccessMinutes = "report_access_minutes"
        case redeemFailuresAllowed = "redeem_failures_allowed"
        case redeemWindowSeconds = "redeem_window_seconds"
        case activationCodeMinutes = "activation_code_minutes"
        case reviewEditHours = "review_edit_hours"
        case reviewCommentMaxLength = "review_comment_max_length"
        case replyMaxLength = "reply_max_length"
        case reportRecentReviews = "report_recent_reviews"
        case reviewDimensions = "review_dimensions"
        case publicLookupsPerMinute = "public_lookups_per_minute"
        case publicLookupAllowances = "public_lookup_allowances"
        case searchPageMax = "search_page_max"
        case searchOffsetMax = "search_offset_max"
        case searchesPerMinute = "searches_per_minute"
        case signedReportValidDays = "signed_report_valid_days"
    }

    public init(
        version: Int = 1,
        consentCodeMinutes: Int = 1440,
        reportAccessMinutes: Int = 120,
        redeemFailuresAllowed: Int = 10,
        redeemWindowSeconds: Int = 900,
        activationCodeMinutes: Int = 30,
        reviewEditHours: Int = 48,
        reviewCommentMaxLength: Int = 1000,
        replyMaxLength: Int = 1000,
        reportRecentReviews: Int = 10,
        reviewDimensions: Dimensions = .init(
            skill: ["punctuality", "quality", "childcare", "eldercare", "cooking", "teaching"],
            ethics: ["honesty", "respect", "reliability", "care"]
        ),
        publicLookupsPerMinute: Int = 20,
        searchPageMax: Int = 50,
        signedReportValidDays: Int = 30,
        searchOffsetMax: Int = 500,
        searchesPerMinute: Int = 30,
        consentCodesLiveMax: Int = 5,
        publicLookupAllowances: [LookupAllowance] = []
    ) {
        self.publicLookupAllowances = publicLookupAllowances
        self.consentCodesLiveMax = consentCodesLiveMax
        self.searchOffsetMax = searchOffsetMax
        self.searchesPerMinute = searchesPerMinute
        self.version = version
        self.consentCodeMinutes = consentCodeMinutes
        self.reportAccessMinutes = reportAccessMinutes
        self.redeemFailuresAllowed = redeemFailuresAllowed
        self.redeemWindowSeconds = redeemWindowSeconds
        self.activationCodeMinutes = activationCodeMinutes
        self.reviewEditHours = reviewEditHours
        self.reviewCommentMaxLength = reviewCommentMaxLength
        self.replyMaxLength = replyMaxLength
        self.reportRecentReviews = reportRecentReviews
        self.reviewDimensions = reviewDimensions
        self.publicLookupsPerMinute = publicLookupsPerMinute
        self.searchPageMax = searchPageMax
        self.signedReportValidDays = signedReportValidDays
    }

    public func validate() throws(PolicyError) {
        func range(_ value: Int, _ key: String, _ r: ClosedRange<Int>) throws(PolicyError) {
            guard r.contains(value) else { throw PolicyError(path: [key], message: "must be \(r.lowerBound) to \(r.upperBound)") }
        }
        try range(consentCodeMinutes, "consent_code_minutes", 1...10_080)
        try range(consentCodesLiveMax, "consent_codes_live_max", 1...50)
        try range(reportAccessMinutes, "report_access_minutes", 1...10_080)
        try range(redeemFailuresAllowed, "redeem_failures_allowed", 1...100)
        try range(redeemWindowSeconds, "redeem_window_seconds", 60...86_400)
        try range(activationCodeMinutes, "activation_code_minutes", 1...1440)
        try range(reviewEditHours, "review_edit_hours", 0...720)
        try range(reviewCommentMaxLength, "review_comment_max_length", 1...10_000)
        try range(replyMaxLength, "reply_max_length", 1...10_000)
        try range(reportRecentReviews, "report_recent_reviews", 1...100)
        try range(publicLookupsPerMinute, "public_lookups_per_minute", 1...10_000)
        for (i, allowance) in publicLookupAllowances.enumerated() {
            guard ClientAddress.Range(allowance.network) != nil else {
                throw PolicyError(
                    path: ["public_lookup_allowances", String(i), "network"],
                    message: "is an address or a network like 203.0.113.0/24"
                )
            }
            guard (1...100_000_000).contains(allowance.perMinute) else {
                throw PolicyError(path: ["public_lookup_allowances", String(i), "per_minute"], message: "must be 1 to 100000000")
            }
            guard allowance.reason.contains(where: { !$0.isWhitespace }) else {
                throw PolicyError(
                    path: ["public_lookup_allowances", String(i), "reason"],
                    message: "says who the network is and why it may ask more"
                )
            }
        }
        try range(searchPageMax, "search_page_max", 1...500)
        try range(searchOffsetMax, "search_offset_max", 0...10_000)
        try range(searchesPerMinute, "searches_per_minute", 1...10_000)
        try range(signedReportValidDays, "signed_report_valid_days", 1...366)
        for (name, list) in [("skill", reviewDimensions.skill), ("ethics", reviewDimensions.ethics)] {
            guard !list.isEmpty else { throw PolicyError(path: ["review_dimensions", name], message: "needs at least one dimension") }
            for (i, d) in list.enumerated() where !(d.count >= 2 && d.count <= 40 && d.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "_") })) {
                throw PolicyError(path: ["review_dimensions", name, String(i)], message: "a dimension is a lower-case name like 'honesty'")
            }
        }
        if let shared = Set(reviewDimensions.skill).intersection(reviewDimensions.ethics).first {
            throw PolicyError(path: ["review_dimensions"], message: "'\(shared)' is both a skill and an ethics dimension")
        }
    }
}

/// More public lookups per minute for the addresses of one network.
public struct LookupAllowance: Sendable, Equatable, Codable {
    public var network: String
    public var perMinute: Int
    public var reason: String

    public init(network: String, perMinute: Int, reason: String) {
        self.network = network
        self.perMinute = perMinute
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case network, reason
        case perMinute = "per_minute"
    }
}

extension ReportPolicy {
    /// Lookups per minute allowed to `address`: the largest allowance of a network holding it,
    /// else `publicLookupsPerMinute`.
    public func lookupsPerMinute(for address: String?) -> Int {
        guard let address, let bytes = ClientAddress.parse(address) else { return publicLookupsPerMinute }
        return publicLookupAllowances.filter { ClientAddress.Range($0.network)?.contains(bytes) == true }.map(\.perMinute).max()
            ?? publicLookupsPerMinute
    }
}

/// A review's scores and comment, validated against the policy.
public struct ReviewContent: Sendable, Equatable {
    /// Refuses a skill score outside `allowed` (the dimensions of the engagement's sector).
    public func checkSkill(within allowed: [String]) throws(RegistryError) {
        if let name = skill.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalid(
                "skill_scores.\(name.prefix(40))",
                "Work in this sector is not scored on '\(name.prefix(40))'. Its skill dimensions: \(allowed.joined(separator: ", "))."
            )
        }
    }

    public let skill: [String: Int]
    public let ethics: [String: Int]
    public let comment: String?

    public init(skill: [String: Int], ethics: [String: Int], comment: String?, policy: ReportPolicy) throws(RegistryError) {
        for (name, score) in skill.sorted(by: { $0.key < $1.key }) {
            guard policy.reviewDimensions.skill.contains(name) else {
                throw .invalid(
                    "skill_scores.\(name.prefix(40))",
                    "Unknown skill dimension. Known: \(policy.reviewDimensions.skill.joined(separator: ", "))."
                )
            }
            guard (1...5).contains(score) else { throw .invalid("skill_scores.\(name)", "Scores are 1 to 5.") }
        }
        guard !skill.isEmpty else { throw .invalid("skill_scores", "Score at least one skill.", code: "missing_field") }
        for name in policy.reviewDimensions.ethics {
            guard let score = ethics[name] else {
                throw .invalid(
                    "ethics_scores.\(name)",
                    "Score every ethics dimension: \(policy.reviewDimensions.ethics.joined(separator: ", ")).",
                    code: "missing_field"
                )
            }
            guard (1...5).contains(score) else { throw .invalid("ethics_scores.\(name)", "Scores are 1 to 5.") }
        }
        if let unknown = ethics.keys.sorted().first(where: { !policy.reviewDimensions.ethics.contains($0) }) {
            throw .invalid("ethics_scores.\(unknown.prefix(40))", "Unknown ethics dimension.")
        }
        var text: String?
        if let raw = comment?.trimmingWhitespace(), !raw.isEmpty {
            guard raw.count <= policy.reviewCommentMaxLength else {
                throw .invalid("comment", "The comment is longer than \(policy.reviewCommentMaxLength) characters.", code: "too_long")
            }
            guard !raw.hasControlCharacters else {
                throw .invalid("comment", "The comment contains control characters or bidirectional overrides.", code: "invalid_characters")
            }
            text = raw
        }
        self.skill = skill
        self.ethics = ethics
        self.comment = text
    }
}

/// Engagement states: proposed by the agency, confirmed by the employer, ended by either.
public enum EngagementStatus: String, Sendable, Codable, CaseIterable {
    case proposed, confirmed, ended, cancelled

    public static func allowed(from: EngagementStatus) -> [String] {
        switch from {
        case .proposed: ["confirm", "cancel"]
        case .confirmed: ["end"]
        case .ended, .cancelled: []
        }
    }

    public static func next(_ from: EngagementStatus, _ event: String) throws(RegistryError) -> EngagementStatus {
        switch (from, event) {
        case (.proposed, "confirm"): return .confirmed
        case (.proposed, "cancel"): return .cancelled
        case (.confirmed, "end"): return .ended
        default:
            let allowed = allowed(from: from)
            throw RegistryError(
                .conflict,
                code: "illegal_transition",
                message: "A \(from.rawValue) engagement cannot '\(event)'."
                    + (allowed.isEmpty ? "" : " Allowed: \(allowed.joined(separator: ", "))."),
                details: ["status": from.rawValue, "allowed": allowed.joined(separator: ",")]
            )
        }
    }
}
