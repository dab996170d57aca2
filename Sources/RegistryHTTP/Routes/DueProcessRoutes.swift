import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryServices
import RegistryStorage

/// Due process for sealed tenure assessments (the worker disputes, the agency answers; the
/// decision is in the shared dispute queue, `EmployerRoutes`) and credit repair (the worker
/// applies, administrators decide).
struct DueProcessRoutes {
    let registry: Registry

    struct Created: Encodable, Sendable { var id: String }
    struct ReasonBody: Decodable { var reason: String }
    struct StatementBody: Decodable { var statement: String }
    struct TenureDisputes: Encodable, Sendable { var disputes: [TenureDisputeService.Dispute] }
    struct OwnRepairs: Encodable, Sendable {
        var records: [CreditRepairService.Record]
        var applications: [CreditRepairService.Application]
    }
    struct Repairs: Encodable, Sendable { var repairs: [CreditRepairService.Application] }

    func register(on routes: ProtectedRouter) {
        // Tenure assessments
        routes.post("/api/v1/me/tenures/{id}/dispute", action: "tenures.dispute") { request, context in
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            let id = try await registry.tenureDisputes.raise(
                tenureID: try context.parameters.uuid("id"),
                reason: body.reason,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.get("/api/v1/me/tenure-disputes", action: "tenures.dispute") { _, context in
            JSONResponse(TenureDisputes(disputes: try await registry.tenureDisputes.own(caller: context.caller, logger: context.logger)))
        }
        routes.get("/api/v1/tenure-disputes", action: "tenures.answer") { _, context in
            JSONResponse(TenureDisputes(disputes: try await registry.tenureDisputes.forAgency(caller: context.caller, logger: context.logger)))
        }
        routes.post("/api/v1/tenure-disputes/{id}/answer", action: "tenures.answer") { request, context in
            let body = try await request.decodeJSON(StatementBody.self, context: context)
            try await registry.tenureDisputes.answer(
                try context.parameters.uuid("id"),
                statement: body.statement,
                caller: context.caller,
                logger: context.logger
            )
            return Response(status: .noContent)
        }

        // Credit repair: the worker
        routes.get("/api/v1/me/repairs", action: "repairs.apply") { _, context in
            JSONResponse(
                OwnRepairs(
                    records: try await registry.repairs.records(caller: context.caller, logger: context.logger),
                    applications: try await registry.repairs.own(caller: context.caller, logger: context.logger)
                )
            )
        }
        routes.post("/api/v1/me/repair-proofs", action: "repairs.apply") { request, context in
            let contentType = request.headers[.contentType] ?? ""
            // The caller, the declared type and length are checked before the body is read; then
            // it streams to a temporary file while it is hashed.
            try registry.repairs.mayUploadProof(
                contentType: contentType,
                declaredLength: request.headers[.contentLength].flatMap { Int($0) },
                caller: context.caller
            )
            let sink = try EvidenceSink(limit: registry.policies.revocation.evidenceMaxBytes)
            for try await buffer in request.body {
                try buffer.withUnsafeReadableBytes { try sink.append($0) }
            }
            let proof = try await registry.repairs.addProof(
                filename: request.uri.queryParameters["filename"].map(String.init) ?? "",
                contentType: contentType,
                upload: try sink.finish(),
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(proof, status: .created)
        }
        routes.post("/api/v1/me/flags/{id}/repair", action: "repairs.apply") { request, context in
            let body = try await request.decodeJSON(CreditRepairService.Request.self, context: context)
            let id = try await registry.repairs.apply(
                flagID: try context.parameters.uuid("id"),
                body,
                caller: context.caller,
                logger: context.logger
            )
            return JSONResponse(Created(id: id.text), status: .created)
        }
        routes.get("/api/v1/repair-proofs/{id}", action: "repairs.proof") { _, context in
            let file = try await registry.repairs.proof(try context.parameters.uuid("id"), caller: context.caller, logger: context.logger)
            return Response.attachment(filename: file.filename, contentType: file.contentType, bytes: file.bytes, fallback: "proof")
        }

        // Credit repair: administrators
        routes.get("/api/v1/repairs", action: "repairs.decide") { request, context in
            let status = request.uri.queryParameters["status"].map(String.init) ?? "open"
            guard ["open", "decided"].contains(status) else { throw RegistryError.invalid("status", "status is open or decided.") }
            return JSONResponse(
                Repairs(repairs: try await registry.repairs.queue(openOnly: status == "open", caller: context.caller, logger: context.logger))
            )
        }
        routes.post("/api/v1/repairs/{id}/{decision}", action: "repairs.decide") { request, context in
            guard let decision = context.parameters.get("decision"), ["approve", "refuse"].contains(decision) else {
                throw RegistryError.notFound("Resource")
            }
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            try await registry.repairs.decide(
                try context.parameters.uuid("id"),
                approve: decision == "approve",
                reason: body.reason,
                caller: context.caller,
                logger: context.logger
            )
            return Response(status: .noContent)
        }
    }
}
