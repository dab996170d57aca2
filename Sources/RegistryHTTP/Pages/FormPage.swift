import Foundation
import RegistryDomain
import RegistryServices

/// Re-displaying a form: what was typed, and the error next to the field it is about.
extension PageScope {
    /// The template values for a form: `v` (typed values of `fields`), `e` (field → message)
    /// and `form_error` (the summary at the top, linking to the field when there is one).
    /// `secrets` (passwords) can carry an error but are never sent back. `rename` maps a
    /// service's field name to the form's (e.g. `email` → `account`).
    func formValues(
        _ form: WebForm,
        fields: [String],
        secrets: [String] = [],
        error: RegistryError? = nil,
        rename: [String: String] = [:]
    ) -> [String: Any] {
        var typed: [String: String] = [:]
        for field in fields { typed[field] = form.text(field) }
        var result: [String: Any] = ["v": typed]
        guard let error else {
            result["e"] = [String: String]()
            return result
        }
        let message = message(for: error)
        let field = error.field.map { rename[$0] ?? $0 }
        if let field, fields.contains(field) || secrets.contains(field) {
            result["e"] = [field: message]
            result["form_error"] = ["message": t.text("form.check_field"), "field": field]
        } else {
            result["e"] = [String: String]()
            result["form_error"] = ["message": message]
        }
        return result
    }

    /// Choices for a radio group, checkbox group or select: value, label, whether chosen.
    func choices(_ group: String, _ values: [String], selected: Set<String>) -> [[String: Any]] {
        values.map { ["value": $0, "label": label(group, $0), "selected": selected.contains($0)] }
    }

    /// The service categories as choices, sector by sector: the first of each sector carries
    /// the sector's name (`sector`) for a heading.
    func categoryChoices(selected: Set<String>) -> [[String: Any]] {
        registry.policies.sectors.sectors.flatMap { sector in
            sector.categories.enumerated().map { i, c in
                var choice: [String: Any] = ["value": c.id, "label": label("category", c.id), "selected": selected.contains(c.id)]
                if i == 0 { choice["sector"] = label("sector", sector.id) }
                return choice
            }
        }
    }

    /// Skill levels 1–5 (初级 … 高级技师) as choices.
    func levelChoices(selected: String?) -> [[String: Any]] {
        choices("level", SkillLevel.allCases.map { String($0.rawValue) }, selected: selected.map { [$0] } ?? [])
    }

    /// Ethics ratings 1–5 as choices.
    func ratingChoices(selected: String?) -> [[String: Any]] {
        choices("rating", (1...5).map(String.init), selected: selected.map { [$0] } ?? [])
    }

    /// An optional whole number from a form field; text that is not one is a field error.
    func integer(_ form: WebForm, _ field: String, required: Bool = false) throws -> Int? {
        guard let text = form.optional(field) else {
            if required { throw RegistryError.invalid(field, "'\(field)' is required.", code: "missing_field") }
            return nil
        }
        guard let value = Int(text) else { throw RegistryError.invalid(field, "'\(field)' must be a whole number.") }
        return value
    }

    /// A date and time in China Standard Time, as people read it.
    static func dateTime(_ date: Date?) -> String {
        guard let date else { return "" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }
}
