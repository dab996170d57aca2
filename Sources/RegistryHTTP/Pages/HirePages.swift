import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// The for-hire listing as a page, for employers (and agencies and administrators, who may
/// search too): filters by sector, category, region, level, grade and the red list; a card per
/// worker, as much as anyone may see before she consents. Filters travel in the query (GET),
/// so a search can be bookmarked and a page is one request.
struct HirePages {
    let kit: PageKit

    static let pageSize = 20

    func register(on routes: ProtectedRouter) {
        routes.get("/employer/hire", action: "workers.search") { request, context in
            let page = kit.scope(request, context)
            func q(_ name: String) -> String? {
                guard let v = page.query(name)?.trimmingWhitespace(), !v.isEmpty else { return nil }
                return v
            }
            let number = try PageScope.pageNumber(q("page"))
            let searched = request.uri.query?.isEmpty == false
            var values: [String: Any] = [:]
            let sectors = page.registry.policies.sectors
            values["sectors"] = sectors.sectors.map { ["value": $0.id, "label": page.label("sector", $0.id), "selected": q("sector") == $0.id] }
            values["categories"] = sectors.categoryIDs.map { ["value": $0, "label": page.label("category", $0), "selected": q("category") == $0] }
            values["levels"] = (1...5).map { ["value": String($0), "label": String($0), "selected": q("min_level") == String($0)] }
            values["grades"] = ["A", "B", "C", "D"].map { ["value": $0, "label": page.label("grade", $0), "selected": q("min_grade") == $0] }
            values["region"] = q("region") ?? ""
            values["red_list"] = q("red_list") == "true"
            values["red_rule"] = page.t.text(
                "red_list.rule",
                [
                    "grade": page.label("grade", page.registry.policies.publication.redList.grade.rawValue),
                    "days": String(page.registry.policies.publication.redList.minDays),
                ]
            )
            guard searched else { return page.render("hire", values) }
            do {
                let minLevel = try q("min_level").map { text -> Int in
                    guard let n = Int(text), (1...5).contains(n) else { throw RegistryError.invalid("min_level", "min_level is 1 to 5.") }
                    return n
                }
                let offset = (number - 1) * Self.pageSize
                guard offset <= page.registry.policies.reports.searchOffsetMax else {
                    throw RegistryError.invalid("page", "Narrow the search instead of paging deeper.")
                }
                let found = try await page.registry.reports.searchAvailable(
                    .init(
                        region: q("region"),
                        category: q("category"),
                        minLevel: minLevel,
                        minGrade: q("min_grade"),
                        limit: Self.pageSize,
                        offset: offset,
                        sector: q("sector"),
                        redListOnly: q("red_list") == "true"
                    ),
                    caller: page.caller,
                    logger: context.logger
                )
                values["searched"] = true
                values["results"] = found.map { l -> [String: Any] in
                    var v: [String: Any] = [
                        "name": l.displayName, "age": String(l.age),
                        "categories": page.list(l.categories.map { page.label("category", $0) }),
                        "red_list": l.redList,
                    ]
                    v["grade"] = l.grade.map { page.label("grade", $0) }
                    v["level"] = l.topLevel.map(String.init)
                    v["province"] = l.homeProvince
                    return v
                }
                values["none"] = found.isEmpty
                var query = request.uri.queryParameters.filter { $0.key != "page" }.map { "\($0.key)=\(PageScope.queryEncode(String($0.value)))" }
                query.sort()
                let base = "/employer/hire?" + query.joined(separator: "&")
                if number > 1 { values["previous"] = base + "&page=\(number - 1)" }
                if found.count == Self.pageSize, number * Self.pageSize <= page.registry.policies.reports.searchOffsetMax {
                    values["next"] = base + "&page=\(number + 1)"
                }
                values["page"] = String(number)
                return page.render("hire", values)
            } catch let error as RegistryError {
                values["form_error"] = ["message": page.message(for: error)]
                var response = page.render("hire", values, status: error.kind.status)
                if let retry = error.details["retry_after"] { response.headers[.retryAfter] = retry }
                return response
            }
        }
    }
}
