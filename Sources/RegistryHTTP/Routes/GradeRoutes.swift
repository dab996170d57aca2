import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Grades: the worker's own explained grade and history; the full computation for administrators.
struct GradeRoutes {
    let registry: Registry

    /// `lang` (zh-CN or en; anything else is 400), else Accept-Language, else zh-CN.
    func language(_ request: Request) throws -> String {
        if let lang = request.uri.queryParameters["lang"] {
            guard lang == "zh-CN" || lang == "en" else { throw RegistryError.invalid("lang", "lang is zh-CN or en.") }
            return String(lang)
        }
        let accept = request.headers[.acceptLanguage] ?? ""
        return accept.lowercased().hasPrefix("en") ? "en" : "zh-CN"
    }

    func register(on routes: ProtectedRouter) {
        routes.get("/api/v1/me/grade", action: "grades.read_own") { request, context in
            guard let worker = context.caller.principal.workerID else { throw RegistryError.forbidden }
            return JSONResponse(try await registry.grading.explained(worker, language: try language(request), logger: context.logger))
        }
        routes.get("/api/v1/workers/{id}/grade", action: "grades.inspect") { request, context in
            let id = try context.parameters.id("id", as: WorkerID.self)
            let purpose = request.uri.queryParameters["purpose"].map(String.init)
            return JSONResponse(try await registry.grading.computation(id, purpose: purpose, caller: context.caller, logger: context.logger))
        }
    }
}
