import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Grades: the worker's own explained grade and history; the full computation for administrators.
struct GradeRoutes {
    let registry: Registry

    func language(_ request: Request) -> String {
        if let lang = request.uri.queryParameters["lang"] { return String(lang) }
        let accept = request.headers[.acceptLanguage] ?? ""
        return accept.lowercased().hasPrefix("en") ? "en" : "zh-CN"
    }

    func register(on routes: ProtectedRouter) {
        routes.get("/api/v1/me/grade", action: "grades.read_own") { request, context in
            guard let worker = context.caller.workerUUID else { throw RegistryError.forbidden }
            return JSONResponse(try await registry.grading.explained(worker, language: language(request), logger: context.logger))
        }
        routes.get("/api/v1/workers/{id}/grade", action: "grades.inspect") { request, context in
            let id = try context.parameters.uuid("id")
            return JSONResponse(try await registry.grading.computation(id, logger: context.logger))
        }
    }
}
