/// The written credit commitments (信用承诺) of `Policies/commitments.yaml`: the agency's, signed
/// by its legal representative, and each staff member's own. Each text has a version; a new
/// version must be accepted again.
public struct CommitmentPolicy: Sendable, Equatable, Codable {
    public struct Text: Sendable, Equatable, Codable {
        public var version: String
        public var zh: String
        public var en: String

        public init(version: String, zh: String, en: String) {
            self.version = version
            self.zh = zh
            self.en = en
        }

        /// The text in `language` ("zh-CN" or "en").
        public func text(language: String) -> String { language.hasPrefix("zh") ? zh : en }
    }

    public var agency: Text
    public var staff: Text

    public init(agency: Text, staff: Text) {
        self.agency = agency
        self.staff = staff
    }

    /// The two kinds, as stored.
    public enum Kind: String, Sendable, CaseIterable, Codable {
        case agency, staff
    }

    public func text(_ kind: Kind) -> Text { kind == .agency ? agency : staff }

    public func validate() throws(PolicyError) {
        for kind in Kind.allCases {
            let t = text(kind)
            let path = [kind.rawValue]
            guard (1...32).contains(t.version.count), t.version.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) })
            else {
                throw PolicyError(path: path + ["version"], message: "must be 1 to 32 letters, digits, '.', '-' or '_' (e.g. \"2026.1\")")
            }
            for (language, body) in [("zh", t.zh), ("en", t.en)] {
                guard !body.trimmingWhitespace().isEmpty, body.count <= 4000 else {
                    throw PolicyError(path: path + [language], message: "needs the commitment's text, 1 to 4000 characters")
                }
            }
        }
    }
}
