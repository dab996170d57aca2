/// A name that policy declares and the data stores (a service category, a flag category): a
/// string with its own type, so the two cannot be mixed up, compared and coded as the string.
public protocol PolicyName: RawRepresentable, Sendable, Hashable, Comparable, Codable, CustomStringConvertible
where RawValue == String {
    init(rawValue: String)
}

extension PolicyName {
    public init(_ rawValue: String) { self.init(rawValue: rawValue) }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A kind of service a worker offers and is assessed in (育儿嫂, 幼儿园保育员, ...). The names
/// are not code: `Policies/sectors.yaml` declares them, sector by sector, and `SectorPolicy`
/// parses what clients send against it.
public struct ServiceCategory: PolicyName {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Professional skill levels, after the national vocational qualification grades. Their names
/// differ by sector (`level_names` in `Policies/sectors.yaml`); these are the default.
public enum SkillLevel: Int, Sendable, Codable, CaseIterable, Comparable {
    case junior = 1  // 初级
    case intermediate = 2  // 中级
    case senior = 3  // 高级
    case technician = 4  // 技师
    case seniorTechnician = 5  // 高级技师

    public var chineseName: String { ["初级", "中级", "高级", "技师", "高级技师"][rawValue - 1] }
    public var englishName: String { ["Junior", "Intermediate", "Senior", "Technician", "Senior technician"][rawValue - 1] }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}
