import Foundation
import Hummingbird
import RegistryServices

/// An agency's credit commitments (信用承诺): read them, accept one's own, record the agency's.
struct CommitmentRoutes {
    let registry: Registry

    func register(on routes: ProtectedRouter) {
        routes.get("/api/v1/commitments", action: "commitments.terms") { _, _ in
            JSONResponse(registry.policies.commitments)
        }
        routes.get("/api/v1/agency/commitments", action: "commitments.read") { _, context in
            JSONResponse(try await registry.commitments.view(caller: context.caller, logger: context.logger))
        }
        routes.post("/api/v1/agency/commitments", action: "commitments.accept") { request, context in
            let body = try await request.decodeJSON(CommitmentService.Acceptance.self, context: context)
            return JSONResponse(try await registry.commitments.accept(body, caller: context.caller, logger: context.logger))
        }
    }
}
