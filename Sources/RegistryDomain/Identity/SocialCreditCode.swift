/// A validated unified social credit code (统一社会信用代码, GB 32100-2015) of an agency.
public struct SocialCreditCode: Sendable, Equatable, CustomStringConvertible {
    public let value: String

    static let alphabet: [Character] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")

    public init(_ raw: String) throws(RegistryError) {
        let field = "uscc"
        let chars = Array(raw)
        guard chars.count == 18 else {
            throw .invalid(field, "A unified social credit code has 18 characters.", code: "uscc_length")
        }
        var values: [Int] = []
        for c in chars {
            guard let v = Self.alphabet.firstIndex(of: c) else {
                throw .invalid(
                    field,
                    "A unified social credit code uses digits and upper-case letters except I, O, S, V, Z.",
                    code: "uscc_format"
                )
            }
            values.append(v)
        }
        var sum = 0
        var weight = 1
        for v in values.prefix(17) {
            sum += v * weight
            weight = weight * 3 % 31
        }
        let check = (31 - sum % 31) % 31
        guard values[17] == check else {
            throw .invalid(field, "The unified social credit code's check character is wrong.", code: "uscc_checksum")
        }
        value = raw
    }

    public var description: String { value }

    /// The check character for 17 leading characters (for generating demo and test data).
    public static func checkCharacter(for first17: String) -> Character? {
        let chars = Array(first17)
        guard chars.count == 17 else { return nil }
        var sum = 0
        var weight = 1
        for c in chars {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            sum += v * weight
            weight = weight * 3 % 31
        }
        return alphabet[(31 - sum % 31) % 31]
    }
}

extension NationalID {
    /// The check character for 17 leading digits (for generating demo and test data).
    public static func checkCharacter(for first17: String) -> Character? {
        let digits = first17.compactMap { $0.wholeNumberValue }
        guard digits.count == 17, first17.allSatisfy({ $0.isASCII }) else { return nil }
        let sum = zip(digits, weights).reduce(0) { $0 + $1.0 * $1.1 }
        return checkCharacters[sum % 11]
    }
}
