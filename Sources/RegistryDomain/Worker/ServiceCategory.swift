/// The kinds of domestic service a worker offers and is assessed in.
public enum ServiceCategory: String, Sendable, Codable, CaseIterable, Hashable {
    case nanny  // 育儿嫂
    case maternity  // 月嫂 / 母婴护理
    case elderCare = "elder_care"  // 养老护理
    case patientCare = "patient_care"  // 病患陪护
    case housekeeping  // 家政保洁
    case cooking  // 家庭烹饪

    public var chineseName: String {
        switch self {
        case .nanny: "育儿嫂"
        case .maternity: "母婴护理（月嫂）"
        case .elderCare: "养老护理"
        case .patientCare: "病患陪护"
        case .housekeeping: "家政保洁"
        case .cooking: "家庭烹饪"
        }
    }

    public var englishName: String {
        switch self {
        case .nanny: "Nanny"
        case .maternity: "Maternity care"
        case .elderCare: "Elder care"
        case .patientCare: "Patient care"
        case .housekeeping: "Housekeeping"
        case .cooking: "Cooking"
        }
    }

    /// Parses a list of category names; an unknown name is a 400 naming it.
    public static func parseList(_ names: [String], field: String = "service_categories") throws(RegistryError) -> [ServiceCategory] {
        var result: [ServiceCategory] = []
        for name in names {
            let trimmed = name.trimmingWhitespace()
            guard let category = ServiceCategory(rawValue: trimmed) else {
                throw .invalid(
                    field,
                    "Unknown service category '\(trimmed.prefix(40))'. Known: \(allCases.map(\.rawValue).joined(separator: ", ")).",
                    code: "unknown_category"
                )
            }
            if !result.contains(category) { result.append(category) }
        }
        guard !result.isEmpty else { throw .invalid(field, "Name at least one service category.", code: "missing_field") }
        return result
    }
}

/// Professional skill levels, after the national vocational qualification grades.
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
