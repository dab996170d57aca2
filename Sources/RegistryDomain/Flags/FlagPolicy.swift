/// What a police or credit-bureau record may say, and what it does (`Policies/flags.yaml`).
/// (`FlagStatus` is shared with the grader: Grading/GradingTypes.swift.)

public enum SourceKind: String, Sendable, Codable, CaseIterable {
    case police
    case creditBureau = "credit_bureau"
    /// Another registry (another sector's, or a national platform), whose bans arrive as flags.
    case registry
}

public struct FlagPolicy: Sendable, Equatable, Codable {
    public struct Category: Sendable, Equatable, Codable {
        /// Which kind of source may report it.
        public var source: SourceKind
        public var zh: String
        public var en: String
        /// Credit repair: a flag without its own expiry stops counting this many years after it occurred.
        public var expiryYears: Int?
        /// Credit repair on application: the worker may apply to have a flag of this category
        /// repaired this many years after it occurred. None: never by the passing of time (only on
        /// proof of correction).
        public var repairAfterYears: Int?

        enum CodingKeys: String, CodingKey {
            case source, zh, en
            case expiryYears = "expiry_years"
            case repairAfterYears = "repair_after_years"
        }

        public init(source: SourceKind, zh: String, en: String, expiryYears: Int? = nil, repairAfterYears: Int? = nil) {
            self.source = source
            self.zh = zh
            self.en = en
            self.expiryYears = expiryYears
            self.repairAfterYears = repairAfterYears
        }
    }

    /// A rule: flags in these categories and statuses, at least this severe, cause these effects.
    public struct Effect: Sendable, Equatable, Codable {
        public var categories: [String]
        public var statuses: [FlagStatus]
        public var minSeverity: Int
        /// An automatic interim suspension of the worker (lifted when the flag is retracted).
        public var suspend: Bool
        /// A revocation case opened by the system, for administrators to adjudicate.
        public var openCase: Bool

        enum CodingKeys: String, CodingKey {
            case categories, statuses, suspend
            case minSeverity = "min_severity"
            case openCase = "open_case"
        }

        public init(categories: [String], statuses: [FlagStatus], minSeverity: Int, suspend: Bool, openCase: Bool) {
            self.categories = categories
            self.statuses = statuses
            self.minSeverity = minSeverity
            self.suspend = suspend
            self.openCase = openCase
        }
    }

    /// How another registry's bans arrive: as flags of this category (one a `registry` source
    /// reports), adjudicated, this severe; a reinstatement there retracts the flag here.
    public struct Exchange: Sendable, Equatable, Codable {
        public var category: String
        public var severity: Int

        public init(category: String, severity: Int) {
            self.category = category
            self.severity = severity
        }
    }

    public var version: Int
    public var categories: [String: Category]
    public var batchLimit: Int
    public var signatureMaxSkewSeconds: Int
    public var effects: [Effect]
    public var exchange: Exchange?

    enum CodingKeys: String, CodingKey {
        case version, categories, effects, exchange
        case batchLimit = "batch_limit"
        case signatureMaxSkewSeconds = "signature_max_skew_seconds"
    }

    public init(
        version: Int,
        categories: [String: Category],
        batchLimit: Int,
        signatureMaxSkewSeconds: Int,
        effects: [Effect],
        exchange: Exchange? = nil
    ) {
        self.version = version
        self.categories = categories
        self.batchLimit = batchLimit
        self.signatureMaxSkewSeconds = signatureMaxSkewSeconds
        self.effects = effects
        self.exchange = exchange
    }

    public func validate() throws(PolicyError) {
        guard !categories.isEmpty else { throw PolicyError(path: ["categories"], message: "name at least one category") }
        for (name, category) in categories.sorted(by: { $0.key < $1.key }) {
            guard name.count >= 2, name.count <= 40, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "_") }) else {
                throw PolicyError(path: ["categories", name], message: "a category is a lower-case name like 'debt_default'")
            }
            if let years = category.expiryYears, !(1...50).contains(years) {
                throw PolicyError(path: ["categories", name, "expiry_years"], message: "must be 1 to 50")
            }
            if let years = category.repairAfterYears {
                guard (1...50).contains(years) else {
                    throw PolicyError(path: ["categories", name, "repair_after_years"], message: "must be 1 to 50")
                }
                if let expiry = category.expiryYears, years > expiry {
                    throw PolicyError(
                        path: ["categories", name, "repair_after_years"],
                        message: "must not be later than expiry_years (\(expiry)): the record stops counting by then anyway"
                    )
                }
            }
        }
        guard (1...100_000).contains(batchLimit) else { throw PolicyError(path: ["batch_limit"], message: "must be 1 to 100000") }
        guard (10...3600).contains(signatureMaxSkewSeconds) else {
            throw PolicyError(path: ["signature_max_skew_seconds"], message: "must be 10 to 3600")
        }
        if let exchange {
            guard let category = categories[exchange.category] else {
                throw PolicyError(path: ["exchange", "category"], message: "unknown category '\(exchange.category)'")
            }
            guard category.source == .registry else {
                throw PolicyError(path: ["exchange", "category"], message: "'\(exchange.category)' must be a category a registry source reports")
            }
            guard (1...5).contains(exchange.severity) else { throw PolicyError(path: ["exchange", "severity"], message: "must be 1 to 5") }
        }
        for (i, effect) in effects.enumerated() {
            for (j, c) in effect.categories.enumerated() where categories[c] == nil {
                throw PolicyError(path: ["effects", String(i), "categories", String(j)], message: "unknown category '\(c)'")
            }
            guard !effect.statuses.contains(.retracted) else {
                throw PolicyError(path: ["effects", String(i), "statuses"], message: "a retracted flag has no effect")
            }
            guard (1...5).contains(effect.minSeverity) else {
                throw PolicyError(path: ["effects", String(i), "min_severity"], message: "must be 1 to 5")
            }
        }
    }

    /// The effects of a flag as it stands now (retracted or expired: none).
    public func effects(category: String, status: FlagStatus, severity: Int, expired: Bool) -> (suspend: Bool, openCase: Bool) {
        guard status != .retracted, !expired else { return (false, false) }
        var result = (suspend: false, openCase: false)
        for effect in effects where effect.categories.contains(category) && effect.statuses.contains(status) && severity >= effect.minSeverity {
            result.suspend = result.suspend || effect.suspend
            result.openCase = result.openCase || effect.openCase
        }
        return result
    }
}

/// One flag as a source sends it, validated.
public struct FlagSubmission: Sendable, Equatable {
    public let nationalID: NationalID
    public let reference: String
    public let category: String
    public let severity: Int
    public let status: FlagStatus
    public let occurredOn: CivilDate
    public let expiresOn: CivilDate?
    public let narrative: String?

    public struct Input: Sendable, Codable, Equatable {
        public var idNumber: String
        public var reference: String
        public var category: String
        public var severity: Int
        public var status: String
        public var occurredOn: String
        public var expiresOn: String?
        public var narrative: String?

        public init(
            idNumber: String,
            reference: String,
            category: String,
            severity: Int,
            status: String,
            occurredOn: String,
            expiresOn: String?,
            narrative: String?
        ) {
            self.idNumber = idNumber
            self.reference = reference
            self.category = category
            self.severity = severity
            self.status = status
            self.occurredOn = occurredOn
            self.expiresOn = expiresOn
            self.narrative = narrative
        }

        enum CodingKeys: String, CodingKey {
            case reference, category, severity, status, narrative
            case idNumber = "id_number"
            case occurredOn = "occurred_on"
            case expiresOn = "expires_on"
        }
    }

    /// Validates against the policy and the source's kind; the ID number is checked but the
    /// person need not have a file yet.
    public init(_ input: Input, source: SourceKind, policy: FlagPolicy, today: CivilDate) throws(RegistryError) {
        let id = try NationalID(input.idNumber, today: today)
        let reference = input.reference.trimmingWhitespace()
        guard (1...128).contains(reference.count),
            reference.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:/".contains($0)) })
        else {
            throw .invalid("reference", "The source's reference is 1 to 128 letters, digits and - _ . : /.")
        }
        guard let category = policy.categories[input.category] else {
            throw .invalid(
                "category",
                "Unknown category. Known: \(policy.categories.keys.sorted().joined(separator: ", ")).",
                code: "unknown_category"
            )
        }
        guard category.source == source else {
            throw RegistryError(
                .forbidden,
                code: "category_not_allowed",
                message: "A \(source.rawValue) source cannot report '\(input.category)'.",
                field: "category"
            )
        }
        guard (1...5).contains(input.severity) else { throw .invalid("severity", "severity is 1 to 5.") }
        guard let status = FlagStatus(rawValue: input.status) else {
            throw .invalid("status", "status is one of \(FlagStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        guard let occurred = CivilDate(iso: input.occurredOn.trimmingWhitespace()), occurred.year >= 1900 else {
            throw .invalid("occurred_on", "occurred_on is a date (YYYY-MM-DD).")
        }
        guard occurred <= today else { throw .invalid("occurred_on", "occurred_on cannot be in the future.") }
        var expires: CivilDate?
        if let raw = input.expiresOn?.trimmingWhitespace(), !raw.isEmpty {
            guard let e = CivilDate(iso: raw), e >= occurred else { throw .invalid("expires_on", "expires_on is a date on or after occurred_on.") }
            expires = e
        } else if let years = category.expiryYears {
            expires = CivilDate(year: occurred.year + years, month: occurred.month, day: min(occurred.day, 28))
        }
        var narrative: String?
        if let raw = input.narrative?.trimmingWhitespace(), !raw.isEmpty {
            guard raw.count <= 4000 else { throw .invalid("narrative", "The narrative is longer than 4000 characters.", code: "too_long") }
            guard !raw.hasControlCharacters else {
                throw .invalid("narrative", "The narrative contains control characters or bidirectional overrides.", code: "invalid_characters")
            }
            narrative = raw
        }
        self.nationalID = id
        self.reference = reference
        self.category = input.category
        self.severity = input.severity
        self.status = status
        self.occurredOn = occurred
        self.expiresOn = expires
        self.narrative = narrative
    }

    /// What identifies the content: a replay with the same canonical content changes nothing.
    public var canonicalContent: String {
        [category, String(severity), status.rawValue, occurredOn.iso, expiresOn?.iso ?? "", narrative ?? ""].joined(separator: "\u{1F}")
    }
}
