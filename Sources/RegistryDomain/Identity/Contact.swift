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

    /// A phone number in one canonical form, so that the same number typed two ways compares
    /// equal: spaces, dashes, dots and brackets removed; a Chinese number given with its country
    /// code (`+86`, `0086`, `86` before an 11-digit mobile number) reduced to the national number;
    /// other numbers keep their leading `+`. 6 to 20 digits; nil otherwise.
    public static func normalizedPhone(_ raw: String) -> String? {
        var phone = raw.trimmingWhitespace()
        phone.removeAll { $0 == " " || $0 == "-" || $0 == "." || $0 == "(" || $0 == ")" || $0 == "\u{3000}" }
        var international = false
        if phone.hasPrefix("+") {
            international = true
            phone.removeFirst()
        } else if phone.hasPrefix("00") {
            international = true
            phone.removeFirst(2)
        }
        guard (6...20).contains(phone.count), phone.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if phone.hasPrefix("86"), phone.count == 13, phone.dropFirst(2).first == "1" { return String(phone.dropFirst(2)) }
        return international ? "+" + phone : phone
    }
}

extension Unicode.Scalar {
    /// Bidirectional formatting characters (embeddings, overrides, isolates, marks): they make
    /// text display in another order than it is stored (`U+202E` turns `gpj.exe` into `exe.jpg`).
    public var isBidiControl: Bool {
        switch value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// A control character other than tab and line breaks: C0 (NUL, BEL, ESC…), DEL and C1
    /// (U+0080–U+009F, NEL and CSI among them).
    var isForbiddenControl: Bool {
        properties.generalCategory == .control && !["\t", "\n", "\r"].contains(self)
    }
}

extension String {
    /// True when the text holds control characters other than tab and line breaks (NUL among
    /// them, which PostgreSQL cannot store; C1 controls and DEL too) or bidirectional overrides:
    /// never valid in a note, a narrative, a search or a name. The one rule for free text.
    public var hasControlCharacters: Bool {
        unicodeScalars.contains { $0.isForbiddenControl || $0.isBidiControl }
    }

    /// The stricter rule for names (of people, households, agencies, files): no control
    /// characters at all (tabs and line breaks included), no bidirectional controls, and no
    /// invisible format characters (zero-width spaces and joiners, soft hyphens, byte-order marks)
    /// with which two different names would look the same.
    public var hasInvisibleCharacters: Bool {
        unicodeScalars.contains {
            $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
                || $0.properties.generalCategory == .lineSeparator || $0.properties.generalCategory == .paragraphSeparator
        }
    }

    /// Trims spaces, tabs and line breaks (including the full-width space U+3000).
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
