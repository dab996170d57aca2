import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// The names policy gives: sectors with their service categories, level names, review skill
/// dimensions and qualifications, and the flag categories each kind of source may report. A
/// client reads the ids here instead of hard-coding them (`Policies/sectors.yaml`, `flags.yaml`).
struct SectorRoutes {
    let registry: Registry

    struct Names: Codable, Sendable {
        var zh: String
        var en: String
    }

    struct Category: Codable, Sendable {
        var id: String
        var zh: String
        var en: String
    }

    struct Qualification: Codable, Sendable {
        var id: String
        var zh: String
        var en: String
        var category: String?
        var expires: Bool
    }

    struct Sector: Codable, Sendable {
        var id: String
        var zh: String
        var en: String
        var ethicsWeight: Double
        var skillWeight: Double
        var levelNames: [String: [String]]
        var reviewSkillDimensions: [String]
        var categories: [Category]
        var qualifications: [Qualification]
    }

    struct FlagCategory: Codable, Sendable {
        var id: String
        var zh: String
        var en: String
        var source: String
    }

    struct Body: Codable, Sendable {
        var version: String
        var sectors: [Sector]
        var flagCategories: [FlagCategory]
        var reviewEthicsDimensions: [String]
    }

    static func body(_ policies: PolicySet) -> Body {
        let defaults = policies.grading.composite
        return Body(
            version: policies.sectors.version,
            sectors: policies.sectors.sectors.map { s in
                Sector(
                    id: s.id,
                    zh: s.zh,
                    en: s.en,
                    ethicsWeight: (s.composite ?? defaults).ethicsWeight,
                    skillWeight: (s.composite ?? defaults).skillWeight,
                    // "zh-CN" as "zh", so that the key survives the API's snake_case keys.
                    levelNames: ["zh": s.levelNames["zh-CN"] ?? [], "en": s.levelNames["en"] ?? []],
                    reviewSkillDimensions: s.reviewSkillDimensions,
                    categories: s.categories.map { Category(id: $0.id, zh: $0.zh, en: $0.en) },
                    qualifications: s.qualifications.map {
                        Qualification(id: $0.id, zh: $0.zh, en: $0.en, category: $0.category, expires: $0.expires)
                    }
                )
            },
            flagCategories: policies.flags.categories.keys.sorted().map { id in
                let c = policies.flags.categories[id]!
                return FlagCategory(id: id, zh: c.zh, en: c.en, source: c.source.rawValue)
            },
            reviewEthicsDimensions: policies.reports.reviewDimensions.ethics
        )
    }

    func register(on routes: ProtectedRouter) {
        let body = Self.body(registry.policies)
        routes.get("/api/v1/sectors", action: "sectors.read") { _, _ in
            var response = JSONResponse(body)
            // Policy changes only with a restart.
            response.headers[.cacheControl] = "public, max-age=300"
            return response
        }
    }
}
