/// What the registry publishes about workers (`Policies/publication.yaml`): the blacklist of
/// those barred after a decided case, and the red list of those who keep faith.
public struct PublicationPolicy: Sendable, Equatable, Codable {
    public var version: Int
    public var blacklist: Blacklist
    public var redList: RedList

    public init(version: Int = 1, blacklist: Blacklist = .init(), redList: RedList = .init()) {
        self.version = version
        self.blacklist = blacklist
        self.redList = redList
    }

    enum CodingKeys: String, CodingKey {
        case version, blacklist
        case redList = "red_list"
    }

    public struct Blacklist: Sendable, Equatable, Codable {
        /// The fields an entry shows (`BlacklistEntry.fields`); others are withheld.
        public var fields: [String]
        public var idNumberKeepFirst: Int
        public var idNumberKeepLast: Int
        public var pageSize: Int
        public var cacheSeconds: Int

        public static let knownFields = ["name", "id_number", "sectors", "grounds", "decided_on", "reference"]

        public init(
            fields: [String] = Self.knownFields,
            idNumberKeepFirst: Int = 6,
            idNumberKeepLast: Int = 4,
            pageSize: Int = 50,
            cacheSeconds: Int = 60
        ) {
            self.fields = fields
            self.idNumberKeepFirst = idNumberKeepFirst
            self.idNumberKeepLast = idNumberKeepLast
            self.pageSize = pageSize
            self.cacheSeconds = cacheSeconds
        }

        enum CodingKeys: String, CodingKey {
            case fields
            case idNumberKeepFirst = "id_number_keep_first"
            case idNumberKeepLast = "id_number_keep_last"
            case pageSize = "page_size"
            case cacheSeconds = "cache_seconds"
        }

        public func shows(_ field: String) -> Bool { fields.contains(field) }

        /// The name with its middle masked: 张淑芬 → 张*芬, 李娜 → 李*, 欧阳小明 → 欧**明.
        public static func maskName(_ name: String) -> String {
            let c = Array(name)
            switch c.count {
            case 0: return ""
            case 1: return "*"
            case 2: return String(c[0]) + "*"
            default: return String(c[0]) + String(repeating: "*", count: c.count - 2) + String(c[c.count - 1])
            }
        }

        /// The ID number with all but the policy's first and last digits masked.
        public func maskIDNumber(_ id: String) -> String {
            let c = Array(id)
            let first = min(idNumberKeepFirst, c.count)
            let last = min(idNumberKeepLast, c.count - first)
            return String(c[0..<first]) + String(repeating: "*", count: c.count - first - last) + String(c[(c.count - last)...])
        }
    }

    public struct RedList: Sendable, Equatable, Codable {
        /// The grade she must hold.
        public var grade: CreditGrade
        /// For at least this many days.
        public var minDays: Int

        public init(grade: CreditGrade = .a, minDays: Int = 180) {
            self.grade = grade
            self.minDays = minDays
        }

        enum CodingKeys: String, CodingKey {
            case grade
            case minDays = "min_days"
        }
    }

    public func validate() throws(PolicyError) {
        for (i, field) in blacklist.fields.enumerated() where !Blacklist.knownFields.contains(field) {
            throw PolicyError(
                path: ["blacklist", "fields", String(i)],
                message: "unknown field '\(field)' (known: \(Blacklist.knownFields.joined(separator: ", ")))"
            )
        }
        guard Set(blacklist.fields).count == blacklist.fields.count else {
            throw PolicyError(path: ["blacklist", "fields"], message: "names a field twice")
        }
        guard (0...17).contains(blacklist.idNumberKeepFirst) else {
            throw PolicyError(path: ["blacklist", "id_number_keep_first"], message: "must be 0 to 17")
        }
        guard (0...4).contains(blacklist.idNumberKeepLast) else {
            throw PolicyError(path: ["blacklist", "id_number_keep_last"], message: "must be 0 to 4")
        }
        // At least eight of the eighteen characters stay masked, so that the number cannot be read.
        guard blacklist.idNumberKeepFirst + blacklist.idNumberKeepLast <= 10 else {
            throw PolicyError(path: ["blacklist", "id_number_keep_last"], message: "keep at most 10 of the 18 characters in all")
        }
        guard (1...500).contains(blacklist.pageSize) else { throw PolicyError(path: ["blacklist", "page_size"], message: "must be 1 to 500") }
        guard (0...86_400).contains(blacklist.cacheSeconds) else {
            throw PolicyError(path: ["blacklist", "cache_seconds"], message: "must be 0 to 86400")
        }
        guard redList.grade != .revoked else { throw PolicyError(path: ["red_list", "grade"], message: "must be a band: A, B, C or D") }
        guard (1...3650).contains(redList.minDays) else { throw PolicyError(path: ["red_list", "min_days"], message: "must be 1 to 3650") }
    }
}

/// A case's public reference: RC-<year it was filed>-<its number, six digits>.
public enum CaseReference {
    public static func text(year: Int, number: Int64) -> String {
        let digits = String(number)
        return "RC-\(year)-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
