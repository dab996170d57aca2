import Foundation
import Hummingbird
import RegistryDomain
import RegistryServices
import RegistryStorage

struct TransferRoutes {
    let registry: Registry

    struct RequestBody: Decodable {
        var idNumber: String
        enum CodingKeys: String, CodingKey { case idNumber = "id_number" }
    }

    struct Requested: Encodable, Sendable {
        var transfer: TransferService.View
        /// Whether a code went to her phone; the number itself is not shown to the requesting agency.
        var codeSent: Bool
    }

    struct ConsentBody: Decodable { var code: String? }
    struct ReasonBody: Decodable { var reason: String? }
    struct Resent: Encodable, Sendable { var codeSent: Bool }
    struct List: Encodable, Sendable { var transfers: [TransferService.View] }

    func register(on routes: ProtectedRouter) {
        routes.post("/api/v1/transfers", action: "transfers.request") { request, context in
            let body = try await request.decodeJSON(RequestBody.self, context: context)
            let result = try await registry.transfers.request(idNumber: body.idNumber, caller: context.caller, logger: context.logger)
            return JSONResponse(Requested(transfer: result.transfer, codeSent: result.codeSent), status: .created)
        }
        routes.get("/api/v1/transfers", action: "transfers.read") { request, context in
            let open = try request.flag("open", default: false)
            return JSONResponse(List(transfers: try await registry.transfers.list(openOnly: open, caller: context.caller, logger: context.logger)))
        }
        routes.get("/api/v1/transfers/{id}", action: "transfers.read") { _, context in
            JSONResponse(try await registry.transfers.get(try context.parameters.uuid("id"), caller: context.caller, logger: context.logger))
        }
        routes.post("/api/v1/transfers/{id}/consent", action: "transfers.consent") { request, context in
            let body = try await request.decodeJSON(ConsentBody.self, context: context)
            return JSONResponse(
                try await registry.transfers.consent(
                    try context.parameters.uuid("id"),
                    code: body.code,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.post("/api/v1/transfers/{id}/resend-code", action: "transfers.resend") { _, context in
            JSONResponse(
                Resent(
                    codeSent: try await registry.transfers.resendCode(
                        try context.parameters.uuid("id"),
                        caller: context.caller,
                        logger: context.logger
                    )
                )
            )
        }
        routes.post("/api/v1/transfers/{id}/reject", action: "transfers.reject") { request, context in
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            return JSONResponse(
                try await registry.transfers.close(
                    try context.parameters.uuid("id"),
                    .reject,
                    reason: body.reason,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.post("/api/v1/transfers/{id}/cancel", action: "transfers.cancel") { request, context in
            let body = try await request.decodeJSON(ReasonBody.self, context: context)
            return JSONResponse(
                try await registry.transfers.close(
                    try context.parameters.uuid("id"),
                    .cancel,
                    reason: body.reason,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
        routes.post("/api/v1/transfers/{id}/seal", action: "transfers.seal") { request, context in
            let body = try await request.decodeJSON(WorkerService.Assessment.self, context: context)
            return JSONResponse(
                try await registry.transfers.seal(
                    try context.parameters.uuid("id"),
                    final: body,
                    caller: context.caller,
                    logger: context.logger
                )
            )
        }
    }
}
