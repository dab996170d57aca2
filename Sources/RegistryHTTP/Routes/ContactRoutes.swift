import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Phone numbers and e-mail addresses that change: one's own with a code sent to the new one; a
/// worker's by an administrator after an in-person identity check.
struct ContactRoutes {
    let registry: Registry

    struct ChangeRequest: Decodable {
        var phone: String?
        var email: String?
    }

    struct ConfirmRequest: Decodable { var code: String }

    struct AdminPhoneRequest: Decodable {
        var phone: String
        var reason: String
    }

    func register(on routes: ProtectedRouter) {
        routes.post("/api/v1/auth/contact", action: "auth.contact") { request, context in
            let body = try await request.decodeJSON(ChangeRequest.self, context: context)
            let requested = try await registry.contacts.requestChange(
                phone: body.phone,
                email: body.email,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(requested, status: .accepted)
        }

        routes.post("/api/v1/auth/contact/confirm", action: "auth.contact") { request, context in
            let body = try await request.decodeJSON(ConfirmRequest.self, context: context)
            return JSONResponse(try await registry.contacts.confirmChange(code: body.code, caller: context.caller, logger: context.logger))
        }

        routes.post("/api/v1/workers/{id}/phone", action: "workers.phone") { request, context in
            let id = try context.parameters.id("id", as: WorkerID.self)
            let body = try await request.decodeJSON(AdminPhoneRequest.self, context: context)
            return JSONResponse(
                try await registry.contacts.adminChangeWorkerPhone(
                    id,
                    phone: body.phone,
                    reason: body.reason,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
    }
}
