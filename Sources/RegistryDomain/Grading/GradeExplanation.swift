/// One reason in words: for the worker's own view (text and what would improve it) and the
/// report. `detail` is the review dimension behind a `reviews_*` reason, when there is one.
public struct GradeExplanation: Sendable, Equatable, Codable {
    public var code: String
    public var kind: GradeReason.Kind
    public var contribution: Double?
    public var params: [String: String]
    public var text: String
    public var improve: String
    public var detail: GradingPolicy.ReasonText?

    public init(
        code: String,
        kind: GradeReason.Kind,
        contribution: Double?,
        params: [String: String],
        text: String,
        improve: String,
        detail: GradingPolicy.ReasonText?
    ) {
        self.code = code
        self.kind = kind
        self.contribution = contribution
        self.params = params
        self.text = text
        self.improve = improve
        self.detail = detail
    }
}

extension GradingPolicy {
    /// The language among `languages` that best fits `requested` ("zh-CN", "zh", "en-GB", ...);
    /// zh-CN when none does.
    public static func language(for requested: String) -> String {
        let lower = requested.lowercased()
        if let exact = languages.first(where: { $0.lowercased() == lower }) { return exact }
        let primary = lower.split(separator: "-").first.map(String.init) ?? lower
        return languages.first { $0.lowercased().split(separator: "-").first.map(String.init) == primary } ?? languages[0]
    }

    /// The texts of a reason in `language`. A code this policy has no text for (a grade made
    /// under another policy version) is explained by its code.
    public func explain(_ reason: GradeReason, language requested: String) -> GradeExplanation {
        let language = Self.language(for: requested)
        let text = reasons.texts[reason.code]?[language]
        var detail: ReasonText?
        if let dimension = reason.params["dimension"], let contribution = reason.contribution, contribution != 0 {
            detail = reasons.texts[GradeReasonCode.review(dimension, positive: contribution > 0)]?[language]
        }
        return GradeExplanation(
            code: reason.code,
            kind: reason.kind,
            contribution: reason.contribution,
            params: reason.params,
            text: text?.text ?? reason.code,
            improve: text?.improve ?? "",
            detail: detail
        )
    }

    /// Every reason of a grade, in order, in `language`.
    public func explanations(for result: GradeResult, language: String) -> [GradeExplanation] {
        result.reasons.map { explain($0, language: language) }
    }
}

/// What a worker's grade was before a recomputation (from the `grades` row).
public struct GradeSnapshot: Sendable, Equatable {
    public var grade: CreditGrade
    public var composite: Double
    public var policyVersion: String
    /// The stored computation, when it can be read: lets a change name what moved.
    public var computation: GradeComputation?

    public init(grade: CreditGrade, composite: Double, policyVersion: String, computation: GradeComputation? = nil) {
        self.grade = grade
        self.composite = composite
        self.policyVersion = policyVersion
        self.computation = computation
    }

    public init(_ result: GradeResult) {
        self.init(grade: result.grade, composite: result.composite, policyVersion: result.policyVersion, computation: result.computation)
    }
}

/// One entry of a worker's grade history (`grade_history`): when, from what to what, and why.
public struct GradeChange: Sendable, Equatable, Codable {
    /// A factor whose effect on the composite changed.
    public struct Mover: Sendable, Equatable, Codable {
        /// The factor, without its direction (`reviews_ethics`, `flag_theft`, `skill_level`, ...).
        public var factor: String
        /// Composite points before and after (two decimals).
        public var before: Double
        public var after: Double
        public var change: Double

        public init(factor: String, before: Double, after: Double, change: Double) {
            self.factor = factor
            self.before = before
            self.after = after
            self.change = change
        }
    }

    public var fromGrade: CreditGrade?
    public var toGrade: CreditGrade
    public var fromComposite: Double?
    public var composite: Double
    /// The new grade's reasons.
    public var reasons: [GradeReason]
    public var policyVersion: String
    public var policyChanged: Bool
    /// What triggered the recomputation ("review", "flag", "regrade", ...), as the caller names it.
    public var cause: String
    /// The factors that moved the composite most, largest change first (at most three); empty
    /// when the previous computation is unknown.
    public var movers: [Mover]

    public init(
        fromGrade: CreditGrade?,
        toGrade: CreditGrade,
        fromComposite: Double?,
        composite: Double,
        reasons: [GradeReason],
        policyVersion: String,
        policyChanged: Bool,
        cause: String,
        movers: [Mover]
    ) {
        self.fromGrade = fromGrade
        self.toGrade = toGrade
        self.fromComposite = fromComposite
        self.composite = composite
        self.reasons = reasons
        self.policyVersion = policyVersion
        self.policyChanged = policyChanged
        self.cause = cause
        self.movers = movers
    }

    enum CodingKeys: String, CodingKey {
        case composite, reasons, cause, movers
        case fromGrade = "from_grade"
        case toGrade = "to_grade"
        case fromComposite = "from_composite"
        case policyVersion = "policy_version"
        case policyChanged = "policy_changed"
    }

    /// The history entry for a recomputation, or nil when the grade (letter) did not change: a
    /// worker's first grade and every change of grade are kept; a composite that moves within
    /// its band is not a change of grade.
    public static func between(previous: GradeSnapshot?, current: GradeResult, cause: String) -> GradeChange? {
        if let previous, previous.grade == current.grade { return nil }
        return GradeChange(
            fromGrade: previous?.grade,
            toGrade: current.grade,
            fromComposite: previous?.composite,
            composite: current.composite,
            reasons: current.reasons,
            policyVersion: current.policyVersion,
            policyChanged: previous.map { $0.policyVersion != current.policyVersion } ?? false,
            cause: cause,
            movers: movers(from: previous?.computation, to: current.computation)
        )
    }

    /// The factors whose composite contribution changed most between two computations.
    public static func movers(from before: GradeComputation?, to after: GradeComputation, limit: Int = 3) -> [Mover] {
        guard let before else { return [] }
        func byFactor(_ c: GradeComputation) -> [String: Double] {
            var result: [String: Double] = [:]
            for contribution in c.contributions { result[factor(of: contribution.code), default: 0] += contribution.composite }
            return result
        }
        let a = byFactor(before)
        let b = byFactor(after)
        let movers = Set(a.keys).union(b.keys).sorted().compactMap { key -> Mover? in
            let x = a[key] ?? 0
            let y = b[key] ?? 0
            let change = GradingMath.round2(y - x)
            return change == 0 ? nil : Mover(factor: key, before: GradingMath.round2(x), after: GradingMath.round2(y), change: change)
        }
        return Array(movers.sorted { (abs($0.change), $1.factor) > (abs($1.change), $0.factor) }.prefix(limit))
    }

    /// A factor code without its direction: `reviews_ethics_low` → `reviews_ethics`.
    public static func factor(of code: String) -> String {
        for suffix in ["_high", "_low"] where code.hasSuffix(suffix) { return String(code.dropLast(suffix.count)) }
        return code
    }
}
