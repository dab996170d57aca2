/// The composite credit grade shown on a worker's report. `REVOKED` is not a band: it is the
/// grade of a worker who is barred, whatever her scores.
public enum CreditGrade: String, Sendable, Codable, CaseIterable, Hashable {
    case a = "A"
    case b = "B"
    case c = "C"
    case d = "D"
    case revoked = "REVOKED"

    /// 0 for A ... 3 for D, 4 for REVOKED: larger is worse.
    public var rank: Int {
        switch self {
        case .a: 0
        case .b: 1
        case .c: 2
        case .d: 3
        case .revoked: 4
        }
    }

    /// The worse of two grades.
    public func worse(_ other: CreditGrade) -> CreditGrade { other.rank > rank ? other : self }

    /// The four bands a composite can fall in, best first.
    public static let bands: [CreditGrade] = [.a, .b, .c, .d]
}

/// What a police or credit-bureau record is about (theft, fraud, ...). The names are policy:
/// `Policies/flags.yaml` declares them and `grading.yaml` gives each its penalty.
public struct FlagCategory: PolicyName {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// How far a flagged matter has been established. A retracted flag counts for nothing.
public enum FlagStatus: String, Sendable, Codable, CaseIterable, Hashable {
    case alleged, charged, convicted, adjudicated, retracted
}

/// A training (counts toward the skill score) or a certificate (raises or confirms a skill level).
public enum QualificationKind: String, Sendable, Codable, CaseIterable, Hashable {
    case training, certificate
}

/// The outcome written on a health certificate.
public enum HealthResult: String, Sendable, Codable, CaseIterable, Hashable {
    case fit, restricted, unfit
}

/// Deterministic arithmetic for the grader: the same on every platform (no libm), so that two
/// nodes grading the same inputs store the same numbers.
enum GradingMath {
    /// 2^x, computed without the C library.
    static func exp2(_ x: Double) -> Double {
        guard x.isFinite else { return x > 0 ? .infinity : 0 }
        if x < -1070 { return 0 }
        if x > 1020 { return .infinity }
        let whole = x.rounded(.down)
        let fraction = x - whole  // 0 ..< 1
        let y = fraction * 0.693_147_180_559_945_3
        var term = 1.0
        var sum = 1.0
        for k in 1...24 {
            term *= y / Double(k)
            sum += term
        }
        return sum * Double(sign: .plus, exponent: Int(whole), significand: 1)
    }

    /// Weight of something `ageDays` old under a half-life (dates in the future weigh 1).
    static func decay(ageDays: Int, halfLifeDays: Double) -> Double {
        exp2(-Double(max(0, ageDays)) / halfLifeDays)
    }

    /// Rounded to two decimals, half away from zero (the `numeric(6,2)` columns).
    static func round2(_ x: Double) -> Double {
        let r = (x * 100).rounded(.toNearestOrAwayFromZero) / 100
        return r == 0 ? 0 : r  // no -0.0
    }

    static func clamp(_ x: Double, _ lo: Double, _ hi: Double) -> Double { min(hi, max(lo, x)) }

    /// Maps a 1-5 mean onto 0-100.
    static func percent(fromMean mean: Double) -> Double { (mean - 1) * 25 }
}
