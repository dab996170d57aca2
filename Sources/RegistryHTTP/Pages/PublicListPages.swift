import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// The public pages a household without an account uses: the yes/no lookup (is this person
/// barred?) and the published blacklist. Both in Chinese and English, linked from the home page.
struct PublicListPages {
    let kit: PageKit

    static let lookupFields = ["id_number"]

    func register(on routes: ProtectedRouter) {
        routes.get("/blacklist", action: "public.blacklist") { request, context in
            let page = kit.scope(request, context)
            let number = try PageScope.pageNumber(page.query("page"))
            let found = try await page.registry.publicLists.blacklist(page: number, logger: context.logger)
            var values: [String: Any] = [
                "entries": found.entries.map { e -> [String: Any] in
                    var v: [String: Any] = [:]
                    v["name"] = e.name
                    v["id_number"] = e.idNumber
                    v["sectors"] = e.sectors.map { page.list($0.map { page.language == .zh ? $0.zh : $0.en }) }
                    v["grounds"] = e.grounds.map { page.language == .zh ? $0.zh : $0.en }
                    v["decided_on"] = e.decidedOn
                    v["reference"] = e.reference
                    return v
                },
                "total": String(found.total), "page": String(found.page), "pages": String(found.pages),
                "empty": found.entries.isEmpty,
            ]
            let fields = page.registry.policies.publication.blacklist.fields
            for field in fields { values["show_" + field] = true }
            if found.page > 1 { values["previous"] = String(found.page - 1) }
            if found.page < found.pages { values["next"] = String(found.page + 1) }
            values["csv"] = "/api/v1/public/blacklist.csv?page=\(found.page)"
            values["json"] = "/api/v1/public/blacklist?page=\(found.page)"
            // Not cached like the JSON and CSV: the page carries the visitor's language (a cached
            // copy would survive the language switch), a signed-in visitor's name and form token.
            return page.render("blacklist", values)
        }

        routes.get("/lookup", action: "public.ban_status") { request, context in
            let page = kit.scope(request, context)
            return page.render("lookup", page.formValues(WebForm(), fields: Self.lookupFields))
        }

        // The same one statement, and the same per-address throttle, as the API's lookup. The
        // number is posted (never in a URL), and never shown back or logged.
        routes.post("/lookup", action: "public.ban_status") { request, context in
            let page = kit.scope(request, context)
            let form = try await page.form()
            do {
                let barred = try await page.registry.reports.banStatus(
                    idNumber: form.text("id_number"),
                    clientAddress: context.clientAddress,
                    logger: context.logger
                )
                var values = page.formValues(WebForm(), fields: Self.lookupFields)
                values["answered"] = true
                values["barred"] = barred
                return page.render("lookup", values)
            } catch let error as RegistryError {
                var response = page.render(
                    "lookup",
                    page.formValues(WebForm(), fields: Self.lookupFields, error: error),
                    status: error.kind.status
                )
                if let retry = error.details["retry_after"] { response.headers[.retryAfter] = retry }
                return response
            }
        }
    }
}

extension PageScope {
    /// A page number from the query (1 when absent); anything else is a 400.
    static func pageNumber(_ text: String?) throws -> Int {
        guard let text, !text.isEmpty else { return 1 }
        guard let n = Int(text), (1...100_000).contains(n) else { throw RegistryError.invalid("page", "page is 1 to 100000.") }
        return n
    }
}
