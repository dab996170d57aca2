import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices

/// Agency demerit points: an agency's file of notices and points, the agency's answer, the
/// administrators' record and decision, and their queue.
struct DemeritRoutes {
    let registry: Registry

    struct AnswerRequest: Decodable { var answer: String }

    struct DecisionRequest: Decodable {
        var uphold: Bool
        var reason: String
    }

    struct Queue: Encodable, Sendable { var demerits: [DemeritService.Demerit] }

    func register(on routes: ProtectedRouter) {
        routes.get("/api/v1/agencies/{id}/demerits", action: "demerits.read") { _, context in
            let id = try context.parameters.uuid("id")
            return JSONResponse(try await registry.demerits.standing(agencyID: id, caller: context.caller, logger: context.logger))
        }
        routes.post("/api/v1/agencies/{id}/demerits", action: "demerits.record") { request, context in
            let id = try context.parameters.uuid("id")
            let body = try await request.decodeJSON(DemeritService.NewDemerit.self, context: context)
            return JSONResponse(
                try await registry.demerits.record(agencyID: id, body, caller: context.caller, logger: context.logger),
                status: .created
            )
        }
        routes.post("/api/v1/demerits/{id}/answer", action: "demerits.answer") { request, context in
            let id = try context.parameters.uuid("id")
            let body = try await request.decodeJSON(AnswerRequest.self, context: context)
            return JSONResponse(try await registry.demerits.answer(id, text: body.answer, caller: context.caller, logger: context.logger))
        }
        routes.post("/api/v1/demerits/{id}/decision", action: "demerits.decide") { request, context in
            let id = try context.parameters.uuid("id")
            let body = try await request.decodeJSON(DecisionRequest.self, context: context)
            return JSONResponse(
                try await registry.demerits.decide(id, uphold: body.uphold, reason: body.reason, caller: context.caller, logger: context.logger)
            )
        }
        routes.get("/api/v1/public/agencies/{id}", action: "public.agency") { _, context in
            let agency = try await registry.demerits.publicAgency(
                try context.parameters.uuid("id"),
                commitmentInForce: registry.policies.commitments.agency.version,
                logger: context.logger
            )
            return JSONResponse(agency)
        }
        routes.get("/api/v1/demerits", action: "demerits.decide") { _, context in
            JSONResponse(Queue(demerits: try await registry.demerits.queue(caller: context.caller, logger: context.logger)))
        }
    }
}
