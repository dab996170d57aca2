import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

struct AgencyRoutes {
    let registry: Registry

    struct Applied: Encodable, Sendable {
        var agencyId: String
        var userId: String
        var status: String
    }

    struct DecisionRequest: Decodable { var reason: String? }

    struct StaffRequest: Decodable {
        var email: String
        var displayName: String
        var password: String

        enum CodingKeys: String, CodingKey {
            case email, password
            case displayName = "display_name"
        }
    }

    struct Created: Encodable, Sendable { var id: String }
    struct AgencyList: Encodable, Sendable { var agencies: [AgencyService.Agency] }

    func register(on routes: ProtectedRouter) {
        routes.post("/api/v1/agencies", action: "agencies.apply") { request, context in
            let body = try await request.decodeJSON(AgencyService.Application.self, context: context)
            let (agency, user) = try await registry.agencies.apply(
                body,
                caller: context.caller,
                clientAddress: context.clientAddress,
                logger: context.logger
            )
            return JSONResponse(Applied(agencyId: agency.text, userId: user.text, status: "pending"), status: .created)
        }
        routes.get("/api/v1/agencies", action: "agencies.list") { request, context in
            let status = request.uri.queryParameters["status"].map(String.init)
            return JSONResponse(AgencyList(agencies: try await registry.agencies.list(status: status, logger: context.logger)))
        }
        routes.get("/api/v1/agencies/{id}", action: "agencies.read") { _, context in
            JSONResponse(try await registry.agencies.get(try context.parameters.id("id"), caller: context.caller, logger: context.logger))
        }
        routes.post("/api/v1/agencies/{id}/{decision}", action: "agencies.decide") { request, context in
            let id = try context.parameters.id("id", as: AgencyID.self)
            guard let decision = context.parameters.get("decision").flatMap(AgencyService.Decision.init(rawValue:)) else {
                throw RegistryError.notFound("Resource")
            }
            let body = try await request.decodeJSON(DecisionRequest.self, context: context)
            return JSONResponse(try await registry.agencies.decide(id, decision, reason: body.reason, caller: context.caller, logger: context.logger))
        }
        routes.post("/api/v1/agencies/{id}/staff", action: "agencies.staff") { request, context in
            let body = try await request.decodeJSON(StaffRequest.self, context: context)
            let id = try await registry.agencies.addStaff(
                try context.parameters.id("id"),
                email: body.email,
                displayName: body.displayName,
                password: body.password,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Created(id: id.text), status: .created)
        }
    }
}

extension AppRequestContext {
    /// The caller as the services see it.
    var caller: Caller { Caller(principal, requestID: requestID) }
}
