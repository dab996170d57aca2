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
    struct Cases: Encodable, Sendable { var cases: [DemeritService.AgencyCase] }
    struct Proposal: Decodable {
        var proposal: String
        var reason: String
    }
    struct Objection: Decodable { var objection: String }
    struct CaseDecision: Decodable {
        var confirm: Bool
        var reason: String
    }

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
        routes.get("/api/v1/agency-cases", action: "agency_cases.read") { _, context in
            JSONResponse(Cases(cases: try await registry.demerits.cases(caller: context.caller, logger: context.logger)))
        }
        routes.post("/api/v1/agency-cases/{id}/proposal", action: "agency_cases.decide") { request, context in
            let body = try await request.decodeJSON(Proposal.self, context: context)
            return JSONResponse(
                try await registry.demerits.proposeCase(
                    try context.parameters.uuid("id"),
                    outcome: body.proposal,
                    reason: body.reason,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.post("/api/v1/agency-cases/{id}/objection", action: "agency_cases.object") { request, context in
            let body = try await request.decodeJSON(Objection.self, context: context)
            return JSONResponse(
                try await registry.demerits.objectToCase(
                    try context.parameters.uuid("id"),
                    text: body.objection,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.post("/api/v1/agency-cases/{id}/decision", action: "agency_cases.decide") { request, context in
            let body = try await request.decodeJSON(CaseDecision.self, context: context)
            return JSONResponse(
                try await registry.demerits.decideCase(
                    try context.parameters.uuid("id"),
                    confirm: body.confirm,
                    reason: body.reason,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.get("/api/v1/demerits", action: "demerits.decide") { _, context in
            JSONResponse(Queue(demerits: try await registry.demerits.queue(caller: context.caller, logger: context.logger)))
        }
    }
}
