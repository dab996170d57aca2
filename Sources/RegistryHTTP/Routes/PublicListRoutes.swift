import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// The published blacklist as JSON and CSV, for anyone: the fields policy declares publishable,
/// a page at a time, cacheable for the policy's seconds. There is no search: the only question
/// by ID number is the yes/no lookup (`POST /api/v1/public/ban-status`).
struct PublicListRoutes {
    let registry: Registry

    static func page(_ request: Request, _ registry: Registry) throws -> (page: Int, perPage: Int?) {
        let q = request.uri.queryParameters
        let page = try WorkerRoutes.int(q["page"].map(String.init), "page", default: 1, range: 1...100_000)
        let perPage = try q["per_page"].map {
            try WorkerRoutes.int(String($0), "per_page", default: registry.publicLists.pageSize, range: 1...registry.publicLists.pageSize)
        }
        return (page, perPage)
    }

    struct RedListBody: Decodable, Sendable {
        var optIn: Bool

        enum CodingKeys: String, CodingKey {
            case optIn = "opt_in"
        }
    }

    func register(on routes: ProtectedRouter) {
        // The red list: she opts in or out and sees what keeps her off it; an agency counts its own.
        routes.get("/api/v1/me/red-list", action: "red_list.own") { _, context in
            JSONResponse(try await registry.publicLists.redList(caller: context.caller, logger: context.logger))
        }
        routes.put("/api/v1/me/red-list", action: "red_list.own") { request, context in
            let body = try await request.decodeJSON(RedListBody.self, context: context)
            return JSONResponse(try await registry.publicLists.setRedList(optIn: body.optIn, caller: context.caller, logger: context.logger))
        }
        // Sharing bans with other registries: signed records after a cursor, for keys of kind registry.
        routes.get("/api/v1/exchange/bans", action: "exchange.read") { request, context in
            let q = request.uri.queryParameters
            let after = try q["after"].map { text -> Int64 in
                guard let n = Int64(String(text)), n >= 0 else { throw RegistryError.invalid("after", "after is 0 or more.") }
                return n
            }
            let limit = try WorkerRoutes.int(q["limit"].map(String.init), "limit", default: 100, range: 1...ExchangeService.pageMax)
            var response = JSONResponse(
                try await registry.exchange.export(after: after ?? 0, limit: limit, caller: context.caller, logger: context.logger)
            )
            // The records carry ID numbers: never kept by a cache on the way.
            response.headers[.cacheControl] = "no-store"
            return response
        }
        routes.get("/api/v1/agency/red-list", action: "red_list.count") { _, context in
            JSONResponse(try await registry.publicLists.redListCount(caller: context.caller, logger: context.logger))
        }

        routes.get("/api/v1/public/blacklist", action: "public.blacklist") { request, context in
            let (page, perPage) = try Self.page(request, registry)
            var response = JSONResponse(try await registry.publicLists.blacklist(page: page, perPage: perPage, logger: context.logger))
            response.headers[.cacheControl] = "public, max-age=\(registry.publicLists.cacheSeconds)"
            return response
        }
        routes.get("/api/v1/public/blacklist.csv", action: "public.blacklist") { request, context in
            let (page, perPage) = try Self.page(request, registry)
            let found = try await registry.publicLists.blacklist(page: page, perPage: perPage, logger: context.logger)
            let text = PublicListService.csv(found, fields: registry.policies.publication.blacklist.fields)
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8",
                    .contentDisposition: "attachment; filename=\"blacklist-page-\(page).csv\"",
                    .cacheControl: "public, max-age=\(registry.publicLists.cacheSeconds)",
                ],
                body: .init(byteBuffer: ByteBuffer(string: text))
            )
        }
    }
}
