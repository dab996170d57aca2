import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// The outbox for administrators: counts by state and the dead letters, and sending one again.
struct MessageRoutes {
    let registry: Registry

    func register(on routes: ProtectedRouter) {
        routes.get("/api/v1/admin/messages", action: "messages.read") { _, context in
            JSONResponse(try await registry.messages.overview(logger: context.logger))
        }

        routes.post("/api/v1/admin/messages/{id}/retry", action: "messages.retry") { _, context in
            try await registry.messages.retry(try Self.messageID(context), caller: context.caller, logger: context.logger)
            return Response(status: .noContent)
        }
    }

    /// A message id path parameter: a positive number; anything else is 404.
    static func messageID(_ context: AppRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), text.count <= 18, let id = Int64(text), id > 0 else {
            throw RegistryError.notFound("Message")
        }
        return id
    }
}
