/// A validated mainland resident identity number (GB 11643-1999): 17 digits and a check
/// character computed by ISO 7064 MOD 11-2. The value is sensitive: never log or print it.
public struct NationalID: Sendable, Equatable {
    public enum Sex: String, Sendable, Codable {
        case female = "F"
        case male = "M"
    }

    /// The 18 characters, upper-case X for the check value 10.
    public let value: String
    public let regionCode: String
    public let birthDate: CivilDate
    public let sex: Sex

    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkCharacters: [Character] = Array("10X98765432")

    /// Validates `raw` exactly as typed: no trimming, no case folding beyond nothing.
    /// A lower-case x, full-width digits, spaces or a wrong length are refused, so that every
    /// stored number has one spelling and one blind index.
    public init(_ raw: String, today: CivilDate) throws(RegistryError) {
        let field = "id_number"
        // Forgiving only of what people commonly type: surrounding spaces and a lower-case x.
        let chars = Array(raw.trimmingWhitespace().replacingLastX().unicodeScalars)
        guard chars.count == 18 else {
            throw .invalid(field, "An ID number has 18 characters.", code: "id_number_length")
        }
        var digits: [Int] = []
        for scalar in chars.prefix(17) {
            guard scalar.value >= 48, scalar.value <= 57 else {
                throw .invalid(field, "The first 17 characters of an ID number are digits 0-9.", code: "id_number_format")
            }
            digits.append(Int(scalar.value - 48))
        }
        let last = Character(chars[17])
        guard last == "X" || (last.isASCII && last.isNumber) else {
            throw .invalid(field, "The last character of an ID number is a digit or an upper-case X.", code: "id_number_format")
        }
        let sum = zip(digits, Self.weights).reduce(0) { $0 + $1.0 * $1.1 }
        guard Self.checkCharacters[sum % 11] == last else {
            throw .invalid(field, "The ID number's check digit is wrong.", code: "id_number_checksum")
        }
        let text = String(String.UnicodeScalarView(chars))
        let year = Int(text.dropFirst(6).prefix(4))!
        let month = Int(text.dropFirst(10).prefix(2))!
        let day = Int(text.dropFirst(12).prefix(2))!
        guard let birth = CivilDate(year: year, month: month, day: day) else {
            throw .invalid(field, "The ID number holds an impossible birth date.", code: "id_number_birth_date")
        }
        guard birth <= today, year >= 1900 else {
            throw .invalid(field, "The ID number's birth date is out of range.", code: "id_number_birth_date")
        }
        let region = String(text.prefix(6))
        guard let province = Int(region.prefix(2)), (11...82).contains(province) else {
            throw .invalid(field, "The ID number's region code is unknown.", code: "id_number_region")
        }
        self.value = text
        self.regionCode = region
        self.birthDate = birth
        self.sex = digits[16] % 2 == 1 ? .male : .female
    }

    /// Shown in lists: region and check character only, e.g. `110105************2X`.
    /// The province and the check character only: the file shows the birth date beside it, and
    /// county, birth date and the last two characters would leave about ten candidates.
    public var masked: String { String(value.prefix(2)) + String(repeating: "*", count: 15) + String(value.suffix(1)) }
}

extension NationalID: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { masked }
    public var debugDescription: String { "NationalID(\(masked))" }
}

extension String {
    fileprivate func replacingLastX() -> String {
        hasSuffix("x") ? String(dropLast()) + "X" : self
    }
}
