/// Normalisation and validation of the identifiers people sign in with.
public enum Contact {
    /// Lower-cased, trimmed e-mail; nil when it is not a plausible address.
    public static func normalizedEmail(_ raw: String) -> String? {
        let email = raw.trimmingWhitespace().lowercased()
        guard email.count <= 254, !email.contains(where: { $0 == " " || $0.isNewline }) else { return nil }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".")
        else { return nil }
        return email
    }

    /// Digits with an optional leading +, 6 to 20 digits; spaces and dashes removed.
    public static func normalizedPhone(_ raw: String) -> String? {
        var phone = raw.trimmingWhitespace()
        phone.removeAll { $0 == " " || $0 == "-" }
        let digits = phone.hasPrefix("+") ? phone.dropFirst() : Substring(phone)
        guard (6...20).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return phone
    }
}

extension String {
    /// True when the text holds control characters other than tab and line breaks (NUL among
    /// them, which PostgreSQL cannot store): never valid in a name, a note or a search.
    public var hasControlCharacters: Bool {
        unicodeScalars.contains { $0.properties.generalCategory == .control && !["\t", "\n", "\r"].contains($0) }
    }

    /// Trims spaces, tabs and line breaks (including the full-width space U+3000).
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
