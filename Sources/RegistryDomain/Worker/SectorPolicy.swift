/// The sectors the registry serves and their service categories (`Policies/sectors.yaml`):
/// domestic service, preschool education, institutional elder care, and whatever sector a
/// regulator names next. A new sector is a change to policy, not to code.
public struct SectorPolicy: Sendable, Equatable, Codable {
    public var version: String
    public var sectors: [Sector]
    /// Display names of review dimensions a sector adds (those the pages' translations do not
    /// already name): dimension → {zh, en}.
    public var dimensionNames: [String: Names]

    public init(version: String, sectors: [Sector], dimensionNames: [String: Names] = [:]) {
        self.version = version
        self.sectors = sectors
        self.dimensionNames = dimensionNames
    }

    public struct Names: Sendable, Equatable, Codable {
        public var zh: String
        public var en: String

        public init(zh: String, en: String) {
            self.zh = zh
            self.en = en
        }
    }

    enum CodingKeys: String, CodingKey {
        case version, sectors
        case dimensionNames = "dimension_names"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(String.self, forKey: .version)
        sectors = try c.decode([Sector].self, forKey: .sectors)
        dimensionNames = try c.decodeIfPresent([String: Names].self, forKey: .dimensionNames) ?? [:]
    }

    /// The display name policy gives a review dimension, if any.
    public func dimensionName(_ name: String, language: String) -> String? {
        dimensionNames[name].map { language.hasPrefix("zh") ? $0.zh : $0.en }
    }

    /// A service category: its id (what the API and the database hold) and display names.
    public struct Category: Sendable, Equatable, Codable {
        public var id: String
        public var zh: String
        public var en: String

        public init(id: String, zh: String, en: String) {
            self.id = id
            self.zh = zh
            self.en = en
        }
    }

    /// A qualification the sector knows by name (a certificate or a training). One that
    /// `expires` must be entered with its expiry date.
    public struct Qualification: Sendable, Equatable, Codable {
        public var id: String
        public var zh: String
        public var en: String
        public var category: String?
        public var expires: Bool

        public init(id: String, zh: String, en: String, category: String? = nil, expires: Bool = false) {
            self.id = id
            self.zh = zh
            self.en = en
            self.category = category
            self.expires = expires
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            zh = try c.decode(String.self, forKey: .zh)
            en = try c.decode(String.self, forKey: .en)
            category = try c.decodeIfPresent(String.self, forKey: .category)
            expires = try c.decodeIfPresent(Bool.self, forKey: .expires) ?? false
        }
    }

    public struct Sector: Sendable, Equatable, Codable {
        public var id: String
        public var zh: String
        public var en: String
        /// The sector's own composite weights; none: grading.yaml's.
        public var composite: GradingPolicy.Composite?
        /// The five skill levels' names, per language ("zh-CN", "en").
        public var levelNames: [String: [String]]
        /// The skill dimensions (of `reports.yaml`'s) a review of work in the sector scores.
        public var reviewSkillDimensions: [String]
        public var categories: [Category]
        public var qualifications: [Qualification]

        public init(
            id: String,
            zh: String,
            en: String,
            composite: GradingPolicy.Composite? = nil,
            levelNames: [String: [String]],
            reviewSkillDimensions: [String],
            categories: [Category],
            qualifications: [Qualification] = []
        ) {
            self.id = id
            self.zh = zh
            self.en = en
            self.composite = composite
            self.levelNames = levelNames
            self.reviewSkillDimensions = reviewSkillDimensions
            self.categories = categories
            self.qualifications = qualifications
        }

        enum CodingKeys: String, CodingKey {
            case id, zh, en, composite, categories, qualifications
            case levelNames = "level_names"
            case reviewSkillDimensions = "review_skill_dimensions"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            zh = try c.decode(String.self, forKey: .zh)
            en = try c.decode(String.self, forKey: .en)
            composite = try c.decodeIfPresent(GradingPolicy.Composite.self, forKey: .composite)
            levelNames = try c.decode([String: [String]].self, forKey: .levelNames)
            reviewSkillDimensions = try c.decode([String].self, forKey: .reviewSkillDimensions)
            categories = try c.decode([Category].self, forKey: .categories)
            qualifications = try c.decodeIfPresent([Qualification].self, forKey: .qualifications) ?? []
        }

        /// The name of `level` (1-5) in `language` ("zh-CN" or "en"; anything else: "en").
        public func levelName(_ level: Int, language: String) -> String {
            let names = levelNames[language] ?? levelNames["en"] ?? []
            return (1...names.count).contains(level) ? names[level - 1] : String(level)
        }
    }

    /// The languages every display name is given in.
    public static let languages = ["zh-CN", "en"]

    /// Every category id, sector by sector in the policy's order.
    public var categoryIDs: [String] { sectors.flatMap { $0.categories.map(\.id) } }

    /// The sector a category belongs to, with the category.
    public func category(_ id: String) -> (sector: Sector, category: Category)? {
        for sector in sectors {
            if let category = sector.categories.first(where: { $0.id == id }) { return (sector, category) }
        }
        return nil
    }

    public func sector(_ id: String) -> Sector? { sectors.first { $0.id == id } }

    /// The display name of a category in `language`; an id the policy does not know shows as itself.
    public func categoryName(_ id: String, language: String) -> String {
        guard let found = category(id)?.category else { return id }
        return language.hasPrefix("zh") ? found.zh : found.en
    }

    /// The display name of a sector in `language`.
    public func sectorName(_ id: String, language: String) -> String {
        guard let found = sector(id) else { return id }
        return language.hasPrefix("zh") ? found.zh : found.en
    }

    /// The sectors of these categories, in policy order, each once.
    public func sectors(of categories: [ServiceCategory]) -> [Sector] {
        let ids = Set(categories.map(\.rawValue))
        return sectors.filter { sector in sector.categories.contains { ids.contains($0.id) } }
    }

    /// The name of `level` in the sector of `category` (the first sector's names for an unknown one).
    public func levelName(_ level: Int, category: String, language: String) -> String {
        let sector = self.category(category)?.sector ?? sectors.first
        return sector?.levelName(level, language: language) ?? String(level)
    }

    /// The qualification a sector knows by this title (either language, or its id), if any.
    public func qualification(titled title: String) -> Qualification? {
        let t = title.trimmingWhitespace()
        for sector in sectors {
            if let q = sector.qualifications.first(where: { $0.id == t || $0.zh == t || $0.en.lowercased() == t.lowercased() }) { return q }
        }
        return nil
    }

    /// Parses a list of category names against the policy; an unknown name is a 400 naming it
    /// and the known ones, and an empty list is a 400 too.
    public func parseCategories(_ names: [String], field: String = "service_categories") throws(RegistryError) -> [ServiceCategory] {
        var result: [ServiceCategory] = []
        for name in names {
            let trimmed = name.trimmingWhitespace()
            guard category(trimmed) != nil else {
                throw .invalid(
                    field,
                    "Unknown service category '\(trimmed.prefix(40))'. Known: \(categoryIDs.joined(separator: ", ")).",
                    code: "unknown_category"
                )
            }
            let value = ServiceCategory(trimmed)
            if !result.contains(value) { result.append(value) }
        }
        guard !result.isEmpty else { throw .invalid(field, "Name at least one service category.", code: "missing_field") }
        return result
    }

    /// Parses one category name (a 400 naming it when the policy does not know it).
    public func parseCategory(_ name: String, field: String = "category") throws(RegistryError) -> ServiceCategory {
        try parseCategories([name], field: field)[0]
    }

    /// The skill dimensions a review of work in `category` scores (every one of `all` when the
    /// category is unknown).
    public func reviewSkillDimensions(category: String, all: [String]) -> [String] {
        self.category(category)?.sector.reviewSkillDimensions ?? all
    }

    /// Checks the sectors' review dimensions against those reviews are scored in (`reports.yaml`).
    public func checkDimensions(skill names: [String]) throws(PolicyError) {
        var used: Set<String> = []
        for (i, sector) in sectors.enumerated() {
            for (j, name) in sector.reviewSkillDimensions.enumerated() {
                guard names.contains(name) else {
                    throw PolicyError(
                        path: ["sectors", String(i), "review_skill_dimensions", String(j)],
                        message: "'\(name)' is not a skill dimension of reports.yaml (\(names.joined(separator: ", ")))"
                    )
                }
                used.insert(name)
            }
        }
        if let unused = names.first(where: { !used.contains($0) }) {
            throw PolicyError(path: ["sectors"], message: "no sector's reviews score '\(unused)' (reports.yaml review_dimensions.skill)")
        }
    }

    func names(_ zh: String, _ en: String, _ path: [String], _ fail: ([String], String) -> PolicyError) throws(PolicyError) {
        guard !zh.trimmingWhitespace().isEmpty, zh.count <= 60 else { throw fail(path + ["zh"], "needs a Chinese name of 1 to 60 characters") }
        guard !en.trimmingWhitespace().isEmpty, en.count <= 60 else { throw fail(path + ["en"], "needs an English name of 1 to 60 characters") }
    }

    /// Every rule; the error's path leads to the offending node.
    public func validate() throws(PolicyError) {
        func fail(_ path: [String], _ message: String) -> PolicyError { PolicyError(path: path, message: message) }
        func isName(_ s: String) -> Bool {
            (2...40).contains(s.count) && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") } && s.first!.isLetter
        }
        // What the database's CHECK on category columns allows.
        func isStoredName(_ s: String) -> Bool { (2...40).contains(s.count) && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0 == "_") } }
        func names(_ zh: String, _ en: String, _ path: [String]) throws(PolicyError) {
            try self.names(zh, en, path, fail)
        }
        guard (1...32).contains(version.count) else { throw fail(["version"], "must be 1 to 32 characters") }
        for (name, names) in dimensionNames.sorted(by: { $0.key < $1.key }) {
            try self.names(names.zh, names.en, ["dimension_names", name], fail)
        }
        guard !sectors.isEmpty else { throw fail(["sectors"], "name at least one sector") }
        var sectorIDs: Set<String> = []
        var categoryOwner: [String: String] = [:]
        for (i, sector) in sectors.enumerated() {
            let path = ["sectors", String(i)]
            guard isName(sector.id) else { throw fail(path + ["id"], "'\(sector.id)' must be 2-40 lowercase letters, digits or '_'") }
            guard sectorIDs.insert(sector.id).inserted else { throw fail(path + ["id"], "sector '\(sector.id)' is declared twice") }
            try names(sector.zh, sector.en, path)
            if let w = sector.composite {
                let cp = path + ["composite"]
                guard w.ethicsWeight.isFinite, w.skillWeight.isFinite, (0...1).contains(w.ethicsWeight), (0...1).contains(w.skillWeight) else {
                    throw fail(cp, "weights must be 0 to 1")
                }
                guard abs(w.ethicsWeight + w.skillWeight - 1) < 1e-9 else { throw fail(cp, "ethics_weight and skill_weight must add up to 1") }
                guard w.ethicsWeight > w.skillWeight else { throw fail(cp + ["ethics_weight"], "ethics must weigh more than skill") }
            }
            for language in Self.languages {
                guard let levels = sector.levelNames[language] else {
                    throw fail(path + ["level_names"], "needs the five level names in \(language)")
                }
                guard levels.count == 5, levels.allSatisfy({ !$0.trimmingWhitespace().isEmpty && $0.count <= 30 }) else {
                    throw fail(path + ["level_names", language], "needs exactly five names (levels 1 to 5), each 1 to 30 characters")
                }
            }
            for language in sector.levelNames.keys.sorted() where !Self.languages.contains(language) {
                throw fail(path + ["level_names", language], "unknown language (known: \(Self.languages.joined(separator: ", ")))")
            }
            guard !sector.reviewSkillDimensions.isEmpty else {
                throw fail(path + ["review_skill_dimensions"], "name at least one skill dimension reviews in the sector score")
            }
            guard Set(sector.reviewSkillDimensions).count == sector.reviewSkillDimensions.count else {
                throw fail(path + ["review_skill_dimensions"], "names a dimension twice")
            }
            guard !sector.categories.isEmpty else { throw fail(path + ["categories"], "name at least one service category") }
            for (j, category) in sector.categories.enumerated() {
                let cp = path + ["categories", String(j)]
                guard isStoredName(category.id) else { throw fail(cp + ["id"], "'\(category.id)' must be 2-40 lowercase letters or '_'") }
                if let owner = categoryOwner[category.id] {
                    throw fail(cp + ["id"], "category '\(category.id)' is already in sector '\(owner)' (a category belongs to one sector)")
                }
                categoryOwner[category.id] = sector.id
                try names(category.zh, category.en, cp)
            }
            var qualificationIDs: Set<String> = []
            for (j, q) in sector.qualifications.enumerated() {
                let qp = path + ["qualifications", String(j)]
                guard isName(q.id) else { throw fail(qp + ["id"], "'\(q.id)' must be 2-40 lowercase letters, digits or '_'") }
                guard qualificationIDs.insert(q.id).inserted else { throw fail(qp + ["id"], "qualification '\(q.id)' is declared twice") }
                try names(q.zh, q.en, qp)
                if let c = q.category, !sector.categories.contains(where: { $0.id == c }) {
                    throw fail(qp + ["category"], "'\(c)' is not a category of sector '\(sector.id)'")
                }
            }
        }
    }
}
