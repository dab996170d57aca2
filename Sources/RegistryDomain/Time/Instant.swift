/// A moment in time as the domain sees it: seconds since 1970-01-01T00:00:00Z. Encoded as ISO 8601
/// in UTC to the second (`2026-12-02T04:47:31Z`, as documents and the API show times); decoded from
/// that form, with or without fractions of a second, or from a number of seconds.
public struct Instant: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var secondsSince1970: Double

    public init(secondsSince1970: Double) {
        self.secondsSince1970 = secondsSince1970
    }

    public static func < (a: Self, b: Self) -> Bool { a.secondsSince1970 < b.secondsSince1970 }

    /// The same instant without its fraction of a second.
    public var wholeSeconds: Instant { Instant(secondsSince1970: secondsSince1970.rounded(.down)) }

    public var iso: String {
        let whole = Int(secondsSince1970.rounded(.down))
        let days = whole >= 0 ? whole / 86_400 : -((-whole + 86_399) / 86_400)
        let rest = whole - days * 86_400
        let date = CivilDate(daysSinceEpoch: days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(date.iso)T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
    }

    public var description: String { iso }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC only).
    public init?(iso text: String) {
        let chars = Array(text.utf8)
        guard chars.count >= 20, chars.last == UInt8(ascii: "Z"), chars[10] == UInt8(ascii: "T"),
            let date = CivilDate(iso: String(decoding: chars[0..<10], as: UTF8.self))
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for c in chars[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { return nil }
                n = n * 10 + Int(c - UInt8(ascii: "0"))
            }
            return n
        }
        guard chars[13] == UInt8(ascii: ":"), chars[16] == UInt8(ascii: ":"), let h = number(11..<13), let m = number(14..<16),
            let s = number(17..<19), h < 24, m < 60, s < 61
        else { return nil }
        var fraction = 0.0
        if chars.count > 20 {
            guard chars[19] == UInt8(ascii: "."), chars.count > 21, let digits = number(20..<(chars.count - 1)), chars.count - 21 <= 9 else {
                return nil
            }
            var scale = 1.0
            for _ in 20..<(chars.count - 1) { scale *= 10 }
            fraction = Double(digits) / scale
        } else if chars[19] != UInt8(ascii: "Z") {
            return nil
        }
        self.init(secondsSince1970: Double(date.daysSinceEpoch * 86_400 + h * 3600 + m * 60 + s) + fraction)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let seconds = try? c.decode(Double.self) {
            self.init(secondsSince1970: seconds)
            return
        }
        let text = try c.decode(String.self)
        guard let instant = Instant(iso: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an ISO 8601 UTC time: \(text.prefix(40))")
        }
        self = instant
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(iso)
    }
}
